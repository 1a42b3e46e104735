"""A shared agent's knowledge: its author's files and private collection are searched, through the agent, by
every member it is shared with, who still cannot read those files directly; the member's own chat files are
searched as theirs; a member of another workspace cannot use the agent at all."""

from __future__ import annotations

import uuid

import pytest

from services.agents import runner, store
from services.agents.store import AgentDraft, ToolChoice
from services.errors import NotFound
from services.files import collections, records
from services.tools import registry
from services.tools.base import ToolContext
from tests.fakes.documents import make_pdf
from tests.fakes.llm_server import FakeToolCall
from tests.services.test_agent_loop import calls_until_answered, tool_results, turn
from tests.services.test_chat_support import new_ctx
from tests.services.test_knowledge import PAGES
from tests.services.test_knowledge_turns import member, stored_file


async def test_members_search_a_shared_agents_files_through_it_only(  # type: ignore[no-untyped-def]
    tenant, other_tenant, embeddings, no_server_providers, tmp_path
) -> None:
    admin = await member(tenant, embeddings, ["m1"])  # an owner, with the workspace's model
    report = await stored_file(admin, tmp_path, "Q3 report.pdf", make_pdf(PAGES))
    handbook = await stored_file(
        admin, tmp_path, "handbook.txt", b"Refunds are paid within 14 days of a request."
    )
    private = await collections.create_collection(admin, "Admin's notes")
    await collections.set_file_collections(admin, handbook.id, [private.id])
    agent = await store.create_agent(
        admin,
        AgentDraft(
            "Company guide", files=(report.id,), collections=(private.id,), tools=(ToolChoice("file_search"),),
            visibility="tenant",
        ),
    )  # fmt: skip

    mia = await new_ctx(tenant.id, f"mia-{uuid.uuid4().hex[:6]}@example.com")
    with pytest.raises(NotFound):
        await records.get(mia, report.id)  # not hers to read
    own = await stored_file(mia, tmp_path, "my goals.txt", b"My onboarding goal: three clients by June.")
    usable = await store.usable_agent(mia, agent.id)
    run = await runner.prepare(mia, usable, uuid.uuid4(), conversation_files=(own.id,))

    embeddings.configure(
        reply=lambda body: "Found it." if tool_results(body) else "",
        tool_calls=calls_until_answered(
            FakeToolCall("file_search", {"query": "onboarding", "k": 5}, id="f1")
        ),
    )
    _, result, _ = await turn(mia, run, "What about onboarding?")
    names = {h["file_name"] for h in result.tool_parts[0]["data"]["hits"]}
    assert {"Q3 report.pdf", "my goals.txt"} <= names, names
    embeddings.configure(
        reply=lambda body: "Found it." if tool_results(body) else "",
        tool_calls=calls_until_answered(FakeToolCall("file_search", {"query": "refunds paid"}, id="f2")),
    )
    _, result, _ = await turn(mia, run, "How are refunds paid?")
    assert "handbook.txt" in {h["file_name"] for h in result.tool_parts[0]["data"]["hits"]}

    # Outside the agent, the same ids give her nothing (her own rights); another workspace cannot use the agent.
    direct = ToolContext(ctx=mia, file_ids=(report.id, handbook.id))
    found = await registry.execute_named("file_search", direct, '{"query": "onboarding refunds"}')
    assert found.ok and found.data["hits"] == []
    eve = await new_ctx(other_tenant.id, f"eve-{uuid.uuid4().hex[:6]}@example.com")
    with pytest.raises(NotFound):
        await store.usable_agent(eve, agent.id)
