"""The tool loop of a reply: stream a model step; when it calls tools, run them (in parallel), feed the results
back, and go on, up to `max_steps` steps that may call tools; then one last step without tools, so the member
always gets an answer. Stop is honoured while a step streams, while tools run, and between steps.

The reply stays one stored message: its `text` is the text of every step joined, and each tool call is a
`tool_call` content part in order, holding what the card shows and what the next turn's history replays:
`{"type": "tool_call", "id", "name", "arguments", "status": running|done|error|stopped, "result", "error",
"data", "duration_ms", "at"}`, `at` being the length of the reply's text when the call was made (where the card
sits in the text). `services/chat/tree.history_for_model` turns such a message back into the assistant / tool /
assistant messages a provider expects.

Tools are run by the caller's `execute(call)` (the registry's, bound to the member and the agent), which never
raises for a tool's failure: a failure is a result the model reads.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from services.llm import ChatMessage, Provider, ToolCall
from services.streaming import ReplyOutcome, run_reply

STOP_POLL_SECONDS = 0.2
STEP_SEPARATOR = "\n\n"
MAX_RESULT_PART_CHARS = 4000  # of a result kept on the card (the model got the tool's whole bounded text)
NO_MORE_TOOLS = (
    "You have used all the tool steps allowed for this reply. Answer now with what you have found, and say what "
    "you could not check."
)


@dataclass(frozen=True, slots=True)
class ToolRun:
    """What a tool call gave: `text` for the model, `data` for the card, `error` ("" when it worked)."""

    text: str
    data: Any = None
    error: str = ""
    duration_ms: int = 0


Execute = Callable[[ToolCall], Awaitable[ToolRun]]


def _arguments(raw: str) -> Any:
    try:
        return json.loads(raw or "{}")
    except ValueError:
        return raw


async def _run_calls(
    calls: Sequence[ToolCall],
    execute: Execute,
    parts: list[dict[str, Any]],
    at: int,
    on_parts: Callable[[list[dict[str, Any]]], Awaitable[None]],
    should_stop: Callable[[], Awaitable[bool]] | None,
) -> tuple[list[ToolRun | None], bool]:
    """Run one step's calls side by side; (their results, in order; None for a stopped one), stopped?"""
    mine = []
    for call in calls:
        part: dict[str, Any] = {
            "type": "tool_call", "id": call.id, "name": call.name, "arguments": _arguments(call.arguments),
            "status": "running", "at": at,
        }  # fmt: skip
        parts.append(part)
        mine.append(part)
    await on_parts(parts)
    tasks = [asyncio.ensure_future(execute(call)) for call in calls]
    pending = set(tasks)
    stopped = False
    try:
        while pending:
            done, pending = await asyncio.wait(pending, timeout=STOP_POLL_SECONDS)
            for task in done:
                part = mine[tasks.index(task)]
                run = task.result()
                part.update(
                    status="error" if run.error else "done",
                    result=run.text[:MAX_RESULT_PART_CHARS],
                    error=run.error,
                    duration_ms=run.duration_ms,
                )
                if run.data is not None:
                    part["data"] = run.data
            if done:
                await on_parts(parts)
            if pending and should_stop is not None and await should_stop():
                stopped = True
                break
    finally:
        for task in pending:
            task.cancel()
        for task in pending:
            mine[tasks.index(task)].update(status="stopped", error="Stopped.")
    if pending:
        await asyncio.gather(*pending, return_exceptions=True)
        await on_parts(parts)
    results: list[ToolRun | None] = []
    for task in tasks:
        results.append(task.result() if task.done() and not task.cancelled() else None)
    return results, stopped


async def run_steps(
    provider: Provider,
    model: str,
    messages: Sequence[ChatMessage],
    *,
    tools: list[dict[str, Any]],
    execute: Execute,
    max_steps: int,
    on_text: Callable[[str], Awaitable[None]],
    on_parts: Callable[[list[dict[str, Any]]], Awaitable[None]],
    should_stop: Callable[[], Awaitable[bool]] | None = None,
    outcome: ReplyOutcome,
    parts: list[dict[str, Any]],
    temperature: float | None = None,
    max_tokens: int | None = None,
) -> None:
    """Fill `outcome` (the whole reply: text, status, tokens, timing) and `parts` (the tool calls), both the
    caller's so that they hold everything done so far should this be cancelled."""
    history = list(messages)
    texts: list[str] = []
    started = time.perf_counter()
    prompt_tokens = completion_tokens = 0
    step = 0
    while True:
        step += 1
        offer = tools if step <= max_steps else []
        if step > max_steps:
            history.append(ChatMessage("system", NO_MORE_TOOLS))
        before = STEP_SEPARATOR.join(t for t in texts if t)
        lead = before + STEP_SEPARATOR if before else ""

        async def relay(text: str, lead: str = lead) -> None:
            await on_text(lead + text)

        step_out = ReplyOutcome()
        try:
            await run_reply(
                provider, model, history, on_text=relay, should_stop=should_stop, outcome=step_out,
                tools=offer or None, temperature=temperature, max_tokens=max_tokens,
            )  # fmt: skip
        finally:
            outcome.text = lead + step_out.text if step_out.text else before
            if outcome.ttft_ms is None and step_out.ttft_ms is not None:
                outcome.ttft_ms = round((time.perf_counter() - started) * 1000)
        prompt_tokens += step_out.prompt_tokens
        completion_tokens += step_out.completion_tokens
        outcome.prompt_tokens, outcome.completion_tokens = prompt_tokens, completion_tokens
        texts.append(step_out.text)
        outcome.status, outcome.error = step_out.status, step_out.error
        outcome.finish_reason = step_out.finish_reason
        calls = step_out.tool_calls if offer else []
        if step_out.status != "complete" or not calls:
            return
        results, stopped = await _run_calls(calls, execute, parts, len(outcome.text), on_parts, should_stop)
        history.append(ChatMessage("assistant", step_out.text, tool_calls=tuple(calls)))
        for call, run in zip(calls, results, strict=True):
            answer = (
                "Stopped by the user." if run is None else (f"Error: {run.error}" if run.error else run.text)
            )
            history.append(ChatMessage("tool", answer, tool_call_id=call.id))
        if stopped or (should_stop is not None and await should_stop()):
            outcome.status, outcome.error = "unfinished", "Stopped."
            return
