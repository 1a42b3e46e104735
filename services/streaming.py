"""Run one model reply: consume the provider's normalized events, hand the growing text to the caller at
most every `flush_interval` seconds, honour a stop flag, and report how it ended. No database here: the
caller stores the outcome once, after the model call, so no DB session is held across it."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from contextlib import aclosing
from dataclasses import dataclass, field
from typing import Any

from services.llm import ChatMessage, Finish, Provider, ProviderError, TextDelta, ToolCall, Usage

FLUSH_INTERVAL = 0.05


@dataclass(slots=True)
class ReplyOutcome:
    text: str = ""
    status: str = "complete"  # complete | unfinished | error
    error: str = ""
    finish_reason: str = ""
    prompt_tokens: int = 0
    completion_tokens: int = 0
    ttft_ms: int | None = None
    duration_ms: int = 0
    tool_calls: list[ToolCall] = field(default_factory=list)


async def run_reply(
    provider: Provider,
    model: str,
    history: Sequence[ChatMessage],
    *,
    on_text: Callable[[str], Awaitable[None]],
    should_stop: Callable[[], Awaitable[bool]] | None = None,
    flush_interval: float = FLUSH_INTERVAL,
    outcome: ReplyOutcome | None = None,
    tools: list[dict[str, Any]] | None = None,
    temperature: float | None = None,
    max_tokens: int | None = None,
) -> ReplyOutcome:
    """Stream a reply. `on_text(text_so_far)` is called at most once per `flush_interval` (and once at the
    end); `should_stop()` is polled at each flush. Never raises for provider failures: they come back as
    status "error" with the partial text kept.

    Pass `outcome` to keep the result when the call does not return: on cancellation (or an exception from
    a callback) it holds ALL the text received, not only the last flushed part, before the exception goes on.
    `tools` (neutral tool specs) are offered to the model; its calls come back in `outcome.tool_calls`.
    """
    out = outcome if outcome is not None else ReplyOutcome()
    parts: list[str] = []
    started = time.perf_counter()
    last_flush = 0.0
    flushed_len = 0

    async def flush(force: bool = False) -> bool:
        """Push the text when due; return True when the caller asked to stop."""
        nonlocal last_flush, flushed_len
        now = time.perf_counter()
        if not force and now - last_flush < flush_interval:
            return False
        last_flush = now
        text = "".join(parts)
        if len(text) != flushed_len:
            flushed_len = len(text)
            await on_text(text)
        return bool(should_stop and await should_stop())

    try:
        stream = provider.stream_chat(
            model, list(history), tools=tools or None, temperature=temperature, max_tokens=max_tokens
        )
        async with aclosing(stream) as events:
            async for event in events:
                if isinstance(event, TextDelta):
                    if out.ttft_ms is None:
                        out.ttft_ms = round((time.perf_counter() - started) * 1000)
                    parts.append(event.text)
                    if await flush():
                        out.status = "unfinished"
                        out.error = "Stopped."
                        break
                elif isinstance(event, ToolCall):
                    out.tool_calls.append(event)
                elif isinstance(event, Usage):
                    out.prompt_tokens, out.completion_tokens = event.prompt_tokens, event.completion_tokens
                elif isinstance(event, Finish):
                    out.finish_reason = event.reason
                elif isinstance(event, ProviderError):
                    out.status = "error"
                    code = event.status_code
                    # The status says what kind of failure it was (services.turns.failure reads it).
                    out.error = (
                        event.message
                        if not code or f"HTTP {code}" in event.message
                        else f"{event.message} (HTTP {code})"
                    )
    except BaseException as exc:
        # Cancelled (browser gone, server stopping) or a callback failed: keep what arrived, then re-raise.
        out.text = "".join(parts)
        out.status = "unfinished" if isinstance(exc, asyncio.CancelledError) else "error"
        out.error = out.error or "The reply was interrupted."
        out.duration_ms = round((time.perf_counter() - started) * 1000)
        raise
    out.text = "".join(parts)
    out.duration_ms = round((time.perf_counter() - started) * 1000)
    if out.status == "complete" and out.finish_reason == "length":
        out.error = "The reply reached the model's length limit."
    await flush(force=True)
    return out
