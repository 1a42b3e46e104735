"""The builder's "Test": run the unsaved draft on a short test chat, with its tools, and store nothing.

The test chat lives in the builder page only (its turns are passed back in each call); the draft is validated as
a save would validate it, so what passes the test can be saved. Memory is not used (a test should show what the
agent itself does), the agent's knowledge is (through its file_search tool).
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from services import ai_catalog
from services.agents import runner
from services.agents.store import AgentDraft, validate_draft
from services.context import Ctx
from services.errors import ValidationError
from services.llm import ChatMessage
from services.streaming import ReplyOutcome, run_reply
from services.turns.steps import run_steps

MAX_TEST_TURNS = 20  # the test chat keeps its newest turns


@dataclass(slots=True)
class TestReply:
    outcome: ReplyOutcome = field(default_factory=ReplyOutcome)
    parts: list[dict[str, Any]] = field(default_factory=list)  # the tool calls, as a chat reply stores them
    error: str = ""

    @property
    def text(self) -> str:
        return self.outcome.text


async def run_draft(
    ctx: Ctx,
    draft: AgentDraft,
    turns: Sequence[tuple[str, str]],
    question: str,
    *,
    on_text: Callable[[str], Awaitable[None]],
    on_parts: Callable[[list[dict[str, Any]]], Awaitable[None]] | None = None,
    should_stop: Callable[[], Awaitable[bool]] | None = None,
) -> TestReply:
    """Answer `question` after the test chat's earlier `turns` ((role, text), oldest first) as the draft would.
    Never raises for the model's or a tool's failure: `error` says what happened, the text so far is kept."""
    reply = TestReply()
    question = question.strip()
    if not question:
        raise ValidationError("Write a message to test the agent with.")
    await validate_draft(ctx, draft)
    model_key = draft.model.strip() or (await ai_catalog.catalog(ctx)).default or ""
    if not model_key:
        raise ValidationError("Choose a model for the agent (none is set as this workspace's default).")
    provider, model, _ = await ai_catalog.provider_for(ctx, model_key)
    agent = await runner.prepare(ctx, draft, None)
    history = [
        ChatMessage("user" if role == "user" else "assistant", text)
        for role, text in turns[-MAX_TEST_TURNS * 2 :]
        if role in ("user", "assistant") and text
    ]
    messages = [
        *([ChatMessage("system", agent.instructions)] if agent.instructions.strip() else []),
        *history,
        ChatMessage("user", question),
    ]

    async def parts_changed(parts: list[dict[str, Any]]) -> None:
        if on_parts is not None:
            await on_parts([dict(p) for p in parts])

    if agent.tools and agent.execute is not None:
        await run_steps(
            provider, model, messages, tools=list(agent.tools), execute=agent.execute, max_steps=agent.max_steps,
            on_text=on_text, on_parts=parts_changed, should_stop=should_stop, outcome=reply.outcome,
            parts=reply.parts, temperature=agent.temperature, max_tokens=agent.max_tokens,
        )  # fmt: skip
    else:
        await run_reply(
            provider, model, messages, on_text=on_text, should_stop=should_stop, outcome=reply.outcome,
            temperature=agent.temperature, max_tokens=agent.max_tokens,
        )  # fmt: skip
    if reply.outcome.status != "complete":
        reply.error = reply.outcome.error or "The test reply did not finish."
    return reply


def new_test_id() -> str:
    """An id for a test chat (the page keeps it; nothing is stored under it)."""
    return uuid.uuid4().hex
