"""The reply turn's tool loop against the fake OpenAI and Anthropic servers scripted to call tools: a single call,
parallel calls, a failing tool, looping past max steps, Stop while a tool runs; the reply stored as one message
whose tool calls replay as assistant/tool messages in the next request."""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

import pytest

from services import ai_catalog, chat
from services.context import Ctx
from services.llm import ToolCall
from services.turns import AgentRun, ToolRun, UserMessage, run_turn
from services.turns.steps import NO_MORE_TOOLS
from tests.fakes.llm_server import FakeLLMServer, FakeToolCall
from tests.services.test_chat_support import new_ctx
from tests.services.test_turns import Sink

CLOCK = {
    "name": "current_time",
    "description": "The time now.",
    "parameters": {"type": "object", "properties": {}},
}
SUM = {
    "name": "add",
    "description": "Add two numbers.",
    "parameters": {
        "type": "object",
        "properties": {"a": {"type": "number"}, "b": {"type": "number"}},
        "required": ["a", "b"],
    },
}


async def agent_owner(tenant: Any, server: FakeLLMServer, kind: str) -> Ctx:
    owner = await new_ctx(tenant.id, f"owner-{uuid.uuid4().hex[:6]}@example.com", role="owner")
    base = server.anthropic_base_url if kind == "anthropic" else server.openai_base_url
    await ai_catalog.save_workspace_provider(
        owner, provider_id="mine", kind=kind, label="Mine", base_url=base, api_key="sk-test-key", models=["m1"],
    )  # fmt: skip
    return owner


def tool_results(body: dict[str, Any]) -> list[str]:
    """The tool results a request carries (OpenAI `tool` messages, Anthropic `tool_result` blocks)."""
    found = []
    for m in body["messages"]:
        if m.get("role") == "tool":
            found.append(str(m["content"]))
        elif isinstance(m.get("content"), list):
            found += [str(b.get("content")) for b in m["content"] if b.get("type") == "tool_result"]
    return found


def calls_until_answered(*calls: FakeToolCall) -> Any:
    """The model calls `calls` until the request carries their results, then answers."""
    return lambda body: [] if tool_results(body) else list(calls)


async def turn(ctx: Ctx, agent: AgentRun, words: str, **kw: Any) -> Any:
    cid, mid = uuid.uuid4(), uuid.uuid4()
    sink = Sink()
    seen: list[list[dict[str, Any]]] = []

    async def on_tools(parts: list[dict[str, Any]]) -> None:
        seen.append(parts)

    result = await run_turn(
        ctx, cid, mid, "mine/m1", on_text=sink.on_text, user=UserMessage(mid, None, words, new_conversation=True),
        agent=agent, on_tools=on_tools, **kw,
    )  # fmt: skip
    return cid, result, seen


@pytest.mark.parametrize("kind", ["openai_compatible", "anthropic"])
async def test_a_tool_call_runs_its_result_goes_back_and_the_reply_keeps_it(  # type: ignore[no-untyped-def]
    tenant, llm, no_server_providers, kind
) -> None:
    ctx = await agent_owner(tenant, llm, kind)
    llm.configure(
        reply=lambda body: "It is noon." if tool_results(body) else "Let me check.",
        tool_calls=calls_until_answered(FakeToolCall("current_time", {}, id="call_1")),
    )
    asked: list[ToolCall] = []

    async def execute(call: ToolCall) -> ToolRun:
        asked.append(call)
        return ToolRun("12:00 UTC", data={"time": "12:00"}, duration_ms=3)

    agent = AgentRun(instructions="You are Clock.", tools=(CLOCK,), execute=execute)
    cid, result, seen = await turn(ctx, agent, "What time is it?")
    assert not result.failed, result.error
    assert [c.name for c in asked] == ["current_time"]
    first, second = llm.chat_requests()[-2:]
    assert [t["name"] if "name" in t else t["function"]["name"] for t in first.body["tools"]] == [
        "current_time"
    ]
    assert tool_results(second.body) == ["12:00 UTC"]
    system = first.body.get("system") or first.body["messages"][0]["content"]
    assert "You are Clock." in str(system)
    assert result.outcome.text == "Let me check.\n\nIt is noon."
    [part] = result.tool_parts
    assert (part["name"], part["status"], part["result"], part["data"], part["at"]) == (
        "current_time", "done", "12:00 UTC", {"time": "12:00"}, len("Let me check."),
    )  # fmt: skip
    assert seen[0][0]["status"] == "running" and seen[-1][0]["status"] == "done"

    # Stored as one reply (kept in exports); the next request replays the call and its result.
    reply = (await chat.get_tree(ctx, cid)).path()[1].message
    from services.chat.export import export_json, export_markdown

    assert "> 🔧 **current_time** `{}` → 12:00 UTC" in await export_markdown(ctx, cid)
    exported = (await export_json(ctx, cid))["conversations"][0]["messages"]
    exported = next(m for m in exported if m["role"] == "assistant")["content_parts"]
    assert exported[0]["result"] == "12:00 UTC"
    assert reply.text == "Let me check.\n\nIt is noon." and [p["type"] for p in reply.content_parts] == [
        "tool_call"
    ]
    llm.configure(reply="Still noon.", tool_calls=())
    mid = uuid.uuid4()
    again = await run_turn(
        ctx, cid, reply.id, "mine/m1", on_text=Sink().on_text, user=UserMessage(mid, reply.id, "And now?")
    )
    assert not again.failed, again.error
    body = llm.chat_requests()[-1].body
    assert tool_results(body) == ["12:00 UTC"]
    texts = [str(m.get("content")) for m in body["messages"]]
    assert any("Let me check." in t for t in texts) and any("It is noon." in t for t in texts)


async def test_parallel_calls_run_side_by_side_and_a_failure_is_the_models_to_read(  # type: ignore[no-untyped-def]
    tenant, llm, no_server_providers
) -> None:
    ctx = await agent_owner(tenant, llm, "openai_compatible")
    llm.configure(
        reply=lambda body: "Done." if tool_results(body) else "",
        tool_calls=calls_until_answered(
            FakeToolCall("add", {"a": 1, "b": 2}, id="c1"), FakeToolCall("add", {"a": 5, "b": "x"}, id="c2")
        ),
    )

    async def execute(call: ToolCall) -> ToolRun:
        await asyncio.sleep(0.4)
        if call.id == "c2":
            return ToolRun("", error="b must be a number", duration_ms=400)
        return ToolRun("3", duration_ms=400)

    started = time.perf_counter()
    _, result, _ = await turn(ctx, AgentRun(tools=(SUM,), execute=execute), "Add things")
    assert time.perf_counter() - started < 1.5  # both at once, not 0.8 s of tools in a row (plus two steps)
    assert not result.failed, result.error
    assert [(p["id"], p["status"]) for p in result.tool_parts] == [("c1", "done"), ("c2", "error")]
    assert tool_results(llm.chat_requests()[-1].body) == ["3", "Error: b must be a number"]


async def test_a_model_that_keeps_calling_tools_is_asked_to_answer_after_max_steps(  # type: ignore[no-untyped-def]
    tenant, llm, no_server_providers
) -> None:
    ctx = await agent_owner(tenant, llm, "openai_compatible")
    llm.configure(
        reply=lambda body: "Here is what I found." if not body.get("tools") else "",
        tool_calls=lambda body: [FakeToolCall("current_time", {})] if body.get("tools") else [],
    )

    async def execute(call: ToolCall) -> ToolRun:
        return ToolRun("12:00")

    before = len(llm.chat_requests())
    _, result, _ = await turn(ctx, AgentRun(tools=(CLOCK,), execute=execute, max_steps=2), "Loop")
    assert not result.failed, result.error
    requests = llm.chat_requests()[before:]
    assert [bool(r.body.get("tools")) for r in requests] == [
        True,
        True,
        False,
    ]  # two tool steps, then an answer
    assert NO_MORE_TOOLS in str(requests[-1].body["messages"])
    assert len(result.tool_parts) == 2 and result.outcome.text == "Here is what I found."


async def test_stop_while_a_tool_runs_ends_the_loop_at_once_and_keeps_what_was_done(  # type: ignore[no-untyped-def]
    tenant, llm, no_server_providers
) -> None:
    ctx = await agent_owner(tenant, llm, "openai_compatible")
    llm.configure(
        reply="Searching.", tool_calls=calls_until_answered(FakeToolCall("current_time", {}, id="slow"))
    )
    started = time.perf_counter()

    async def execute(call: ToolCall) -> ToolRun:
        await asyncio.sleep(10)
        return ToolRun("never")

    async def stop() -> bool:
        return time.perf_counter() - started > 0.5

    before = len(llm.chat_requests())
    cid, result, _ = await turn(ctx, AgentRun(tools=(CLOCK,), execute=execute), "Go", should_stop=stop)
    assert time.perf_counter() - started < 3
    assert (result.outcome.status, result.outcome.error) == ("unfinished", "Stopped.")
    assert len(llm.chat_requests()) == before + 1  # no further step
    [part] = result.tool_parts
    assert part["status"] == "stopped"
    reply = (await chat.get_tree(ctx, cid)).path()[1].message
    assert (
        reply.status == "unfinished"
        and reply.text == "Searching."
        and reply.content_parts[0]["status"] == "stopped"
    )


async def test_a_saved_agent_runs_its_registry_tools_and_only_those(  # type: ignore[no-untyped-def]
    tenant, llm, no_server_providers
) -> None:
    from services.agents import runner, store
    from services.agents.store import AgentDraft, ToolChoice

    ctx = await agent_owner(tenant, llm, "openai_compatible")
    agent = await store.create_agent(
        ctx,
        AgentDraft("Maths", instructions="You are careful with numbers.", tools=(ToolChoice("calculator"),)),
    )
    with pytest.raises(Exception, match="no tool “nope”"):
        await store.create_agent(ctx, AgentDraft("Bad", tools=(ToolChoice("nope"),)))
    llm.configure(
        reply=lambda body: "It is 14." if tool_results(body) else "",
        tool_calls=calls_until_answered(
            FakeToolCall("calculator", {"expression": "2 + 3 * 4"}, id="k1"),
            FakeToolCall("current_time", {}, id="k2"),  # not this agent's tool
        ),
    )
    run = await runner.prepare(ctx, agent, None)
    assert [t["name"] for t in run.tools] == [
        "calculator"
    ] and run.instructions == "You are careful with numbers."
    _, result, _ = await turn(ctx, run, "What is 2 + 3 * 4?")
    assert not result.failed, result.error
    by_id = {p["id"]: p for p in result.tool_parts}
    assert by_id["k1"]["status"] == "done" and "14" in by_id["k1"]["result"]
    assert by_id["k2"]["status"] == "error" and "calculator" in by_id["k2"]["error"]
    assert result.outcome.text == "It is 14."


async def test_the_builders_test_runs_the_unsaved_draft_and_stores_nothing(  # type: ignore[no-untyped-def]
    tenant, llm, no_server_providers
) -> None:
    from services.agents.store import AgentDraft, ToolChoice
    from services.agents.testing import run_draft

    ctx = await agent_owner(tenant, llm, "openai_compatible")
    llm.configure(
        reply=lambda body: "That is 7." if tool_results(body) else "",
        tool_calls=calls_until_answered(FakeToolCall("calculator", {"expression": "3 + 4"}, id="t1")),
    )
    draft = AgentDraft(
        "Draft", instructions="You are a draft.", model="mine/m1", tools=(ToolChoice("calculator"),)
    )
    shown: list[str] = []

    async def on_text(text: str) -> None:
        shown.append(text)

    reply = await run_draft(ctx, draft, [("user", "Hi"), ("assistant", "Hello.")], "3 + 4?", on_text=on_text)
    assert (reply.text, reply.error, reply.parts[0]["status"]) == ("That is 7.", "", "done")
    first = [r for r in llm.chat_requests() if r.body.get("tools")][-2].body
    assert [m["role"] for m in first["messages"]] == ["system", "user", "assistant", "user"]
    assert first["messages"][0]["content"] == "You are a draft."
    assert shown[-1] == "That is 7."
    from tests.services.test_chat_support import sql

    assert await sql(tenant.id, "SELECT count(*) FROM conversations") == [(0,)]
    assert await sql(tenant.id, "SELECT count(*) FROM agents") == [(0,)]
    with pytest.raises(Exception, match="name"):
        await run_draft(ctx, AgentDraft(" "), [], "Hi", on_text=on_text)
