"""Per-tool settings an agent's author chooses: checked when the agent is saved (clear refusals naming the tool
and the setting), and applied when it runs: the author's guidance in the description the model reads, fixed
parameters out of the schema and set on every call whatever the model sends, a shorter timeout, and a tool's own
settings (current_time's default zone, file_search without the chat's files)."""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any, ClassVar

import pytest

from services.agents import runner, store
from services.agents.store import AgentDraft, ToolChoice
from services.errors import ValidationError
from services.tools import registry
from services.tools import settings as tool_settings
from services.tools.base import Tool, ToolContext, ToolResult
from tests.fakes.documents import make_pdf
from tests.fakes.llm_server import FakeToolCall
from tests.services.test_agent_loop import calls_until_answered, tool_results, turn
from tests.services.test_knowledge import PAGES
from tests.services.test_knowledge_turns import member, stored_file
from tests.services.test_tools import anyone


class Contacts(Tool):
    """A CRM-like tool: its location is what an author fixes, the model chooses the query."""

    name = "crm_search"
    description = "Search the CRM's contacts."
    parameters: ClassVar[dict[str, Any]] = {
        "type": "object",
        "properties": {
            "location_id": {"type": "string", "minLength": 3},
            "query": {"type": "string"},
            "limit": {"type": "integer", "minimum": 1, "maximum": 50},
            "filters": {"type": "object"},  # not a plain value: cannot be fixed
        },
        "required": ["location_id", "query"],
        "additionalProperties": False,
    }
    timeout = 30.0

    async def run(self, call: ToolContext, arguments: dict[str, Any]) -> ToolResult:
        if arguments["query"] == "slow":
            await asyncio.sleep(10)
        return ToolResult(text=json.dumps(arguments, sort_keys=True), data=arguments)


TOOL = Contacts()


def test_settings_are_checked_with_messages_that_name_the_tool_and_the_setting() -> None:
    assert tool_settings.check(TOOL, {}) == {}
    kept = tool_settings.check(
        TOOL,
        {"guidance": "  Only  for clients ", "timeout": 5, "fixed": {"location_id": "loc-1", "limit": 3}},
    )
    assert kept == {
        "guidance": "Only for clients",
        "timeout": 5,
        "fixed": {"location_id": "loc-1", "limit": 3},
    }
    assert tool_settings.check(TOOL, {"guidance": " ", "fixed": {}}) == {}  # empty ones are not stored
    refusals: dict[str, dict[str, Any]] = {
        "no such setting": {"colour": "red"},
        "from 1 to 120 seconds": {"timeout": 0},
        "a number of seconds": {"timeout": "5"},
        "at most 500 characters": {"guidance": "x" * 501},
        "cannot be fixed": {"fixed": {"filters": {}}},
        "fixed “nope”": {"fixed": {"nope": 1}},
        "is not of type 'integer'": {"fixed": {"limit": "three"}},
        "is greater than the maximum": {"fixed": {"limit": 99}},
        "is too short": {"fixed": {"location_id": "x"}},
    }
    for problem, settings in refusals.items():
        with pytest.raises(ValidationError, match=problem) as caught:
            tool_settings.check(TOOL, settings)
        assert str(caught.value).startswith("Tool “Crm search”"), caught.value
    # A tool's own settings: current_time's zone is checked and written properly.
    clock = registry.get("current_time")
    assert tool_settings.check(clock, {"timezone": "europe/lisbon"}) == {"timezone": "Europe/Lisbon"}
    with pytest.raises(ValidationError, match="default time zone: Unknown time zone 'Mars/Base'"):
        tool_settings.check(clock, {"timezone": "Mars/Base"})
    with pytest.raises(ValidationError, match="is not of type 'boolean'"):
        tool_settings.check(registry.get("file_search"), {"chat_files": "no"})


async def test_fixed_values_leave_the_schema_and_win_and_the_timeout_is_the_authors() -> None:
    settings = {"guidance": "Only for existing clients.", "timeout": 1, "fixed": {"location_id": "loc-1"}}
    spec = tool_settings.spec(TOOL, settings)
    assert spec["description"].endswith(
        "When to use it (from this agent's author): Only for existing clients."
    )
    assert "location_id" not in spec["parameters"]["properties"] and spec["parameters"]["required"] == [
        "query"
    ]
    assert "location_id" in TOOL.parameters["properties"]  # the tool's own schema is untouched
    assert tool_settings.spec(TOOL) == registry.spec(TOOL)

    call = ToolContext(ctx=anyone().ctx, settings=settings)
    result = await registry.execute(TOOL, call, json.dumps({"query": "dana", "location_id": "loc-evil"}))
    assert result.ok and result.data == {"location_id": "loc-1", "query": "dana"}
    result = await registry.execute(TOOL, call, json.dumps({"query": "slow"}))
    assert "took too long (more than 1 seconds)" in result.error
    # Without settings the tool's own schema applies: the location is the model's to give.
    result = await registry.execute(TOOL, anyone(), json.dumps({"query": "dana"}))
    assert "location_id is required" in result.error


async def test_a_saved_agent_keeps_checked_settings_and_runs_with_them(  # type: ignore[no-untyped-def]
    tenant, embeddings, no_server_providers, tmp_path
) -> None:
    owner = await member(tenant, embeddings, ["m1"])  # `embeddings` is the `llm` server with 384-d vectors
    pdf = await stored_file(owner, tmp_path, "Q3 report.pdf", make_pdf(PAGES))
    with pytest.raises(ValidationError, match="Tool “File search”, fixed “k”"):
        await store.create_agent(
            owner, AgentDraft("Bad", tools=(ToolChoice("file_search", {"fixed": {"k": 0}}),))
        )
    agent = await store.create_agent(
        owner,
        AgentDraft(
            "Reports",
            tools=(
                ToolChoice(
                    "file_search", {"guidance": "Look here first.", "fixed": {"k": 1}, "chat_files": False}
                ),
                ToolChoice("current_time", {"timezone": "asia/tokyo"}),
            ),
        ),
    )
    assert {t.name: t.settings for t in agent.tools} == {
        "file_search": {"guidance": "Look here first.", "fixed": {"k": 1}, "chat_files": False},
        "current_time": {"timezone": "Asia/Tokyo"},
    }

    # The chat's own file is not searched (the author said so); the model's k is overruled by the fixed 1.
    run = await runner.prepare(owner, agent, None, conversation_files=(pdf.id,))
    embeddings.configure(
        reply=lambda body: "Nothing found." if tool_results(body) else "",
        tool_calls=calls_until_answered(FakeToolCall("file_search", {"query": "onboarding steps"}, id="f1")),
    )
    _, result, _ = await turn(owner, run, "What are the onboarding steps?")
    first = next(r.body for r in embeddings.chat_requests() if r.body.get("tools"))
    offered = {t["function"]["name"]: t["function"] for t in first["tools"]}
    assert offered["file_search"]["description"].endswith("(from this agent's author): Look here first.")
    assert "k" not in offered["file_search"]["parameters"]["properties"]
    assert result.tool_parts[0]["data"]["hits"] == []
    assert "No files are attached" in result.tool_parts[0]["result"]

    # The same file given to the agent itself is searched, with one passage whatever the model asks.
    agent = await store.update_agent(
        owner,
        agent.id,
        AgentDraft("Reports", files=(pdf.id,), tools=(ToolChoice("file_search", {"fixed": {"k": 1}}),)),
    )
    run = await runner.prepare(owner, agent, uuid.uuid4())
    embeddings.configure(
        reply=lambda body: "Five steps." if tool_results(body) else "",
        tool_calls=calls_until_answered(
            FakeToolCall("file_search", {"query": "onboarding steps", "k": 5}, id="f2")
        ),
    )
    _, result, _ = await turn(owner, run, "What are the onboarding steps?")
    hits = result.tool_parts[0]["data"]["hits"]
    assert len(hits) == 1 and hits[0]["file_name"] == "Q3 report.pdf"

    # By default the chat's files are searched too.
    plain = await store.create_agent(owner, AgentDraft("Plain", tools=(ToolChoice("file_search"),)))
    run = await runner.prepare(owner, plain, None, conversation_files=(pdf.id,))
    _, result, _ = await turn(owner, run, "What are the onboarding steps?")
    assert result.tool_parts[0]["data"]["hits"][0]["file_name"] == "Q3 report.pdf"

    # Versions compare settings too.
    changes = await store.compare(owner, agent.id, 1, 2)
    assert "tools" in {c.field for c in changes}
