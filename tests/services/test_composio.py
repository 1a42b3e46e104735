"""Composio toolkits as agent tools, with the real `composio` SDK against a loopback fake of its API: the
workspace's toolkits are listed as tools, a member's call runs as `<tenant>:<user>` (never from a browser), a
GoHighLevel call without a connected account is the model's to read, connecting returns Composio's sign-in URL
and the status follows it, and another workspace's members are other Composio users. An admin's new key is tried
against Composio before it is stored: refused or unreachable, nothing changes."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest
from sqlmodel import select

from models import AuditLog
from services.agents import gallery, runner, store
from services.agents.store import AgentDraft, ToolChoice
from services.config import get_settings
from services.db import tenant_session
from services.errors import ValidationError
from services.tools import composio
from tests.fakes.composio_server import FakeComposio
from tests.fakes.llm_server import FakeToolCall
from tests.services.test_agent_loop import agent_owner, calls_until_answered, tool_results, turn
from tests.services.test_chat_support import new_ctx

SEARCH, CONTACTS, OPPORTUNITY = (
    "composio_composio_search_web", "composio_highlevel_search_contacts", "composio_highlevel_create_opportunity",
)  # fmt: skip


@pytest.fixture
def composio_api(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeComposio]:
    with FakeComposio() as fake:
        monkeypatch.setenv("COMPOSIO_API_KEY", fake.api_key)
        monkeypatch.setenv("COMPOSIO_BASE_URL", fake.url)
        get_settings.cache_clear()
        composio._lists.clear()
        yield fake


async def test_web_search_and_gohighlevel_through_composio_as_the_member(  # type: ignore[no-untyped-def]
    tenant, other_tenant, llm, no_server_providers, composio_api
) -> None:
    owner = await agent_owner(tenant, llm, "openai_compatible")
    names = await store.tool_names(owner)
    assert {SEARCH, CONTACTS, OPPORTUNITY} <= names
    agent = await store.create_agent(
        owner,
        AgentDraft(
            "Sales assistant", tools=(ToolChoice(SEARCH), ToolChoice(CONTACTS), ToolChoice(OPPORTUNITY))
        ),
    )
    run = await runner.prepare(owner, agent, None)
    needs = {t["name"]: t["description"] for t in run.tools}
    assert "(Web search)" in needs[SEARCH] and "(GoHighLevel)" in needs[CONTACTS]

    # Before connecting GoHighLevel: the web works, the CRM says how to connect.
    llm.configure(
        reply=lambda body: "Done." if tool_results(body) else "",
        tool_calls=calls_until_answered(
            FakeToolCall(SEARCH, {"query": "hybrid coaching"}, id="s1"),
            FakeToolCall(CONTACTS, {"query": "dana"}, id="h1"),
        ),
    )
    _, result, _ = await turn(owner, run, "Research and find Dana")
    by_id = {p["id"]: p for p in result.tool_parts}
    assert by_id["s1"]["status"] == "done" and "hybrid coaching explained" in by_id["s1"]["result"]
    assert by_id["h1"]["status"] == "error" and "Settings → Connections" in by_id["h1"]["error"]
    executes = [r for r in composio_api.requests if r[1].startswith("/api/v3.1/tools/execute/")]
    assert {r[3]["user_id"] for r in executes} == {f"{owner.tenant_id}:{owner.user_id}"}

    # Connect: Composio's sign-in URL; after it, the status is active and the CRM reads and writes.
    status = {c.toolkit: c.status for c in await composio.connections(owner)}
    assert status == {"composio_search": "ACTIVE", "highlevel": ""}
    url = await composio.connect(owner, "highlevel", "https://app.example.com/settings")
    assert url.startswith("https://connect.example.com/ca_")
    assert {c.toolkit: c.status for c in await composio.connections(owner)}["highlevel"] == "INITIATED"
    composio_api.activate(composio.user_id_for(owner))
    assert {c.toolkit: c.status for c in await composio.connections(owner)}["highlevel"] == "ACTIVE"
    llm.configure(
        reply=lambda body: "Created." if tool_results(body) else "",
        tool_calls=calls_until_answered(
            FakeToolCall(OPPORTUNITY, {"contact_id": "c-7", "name": "Hybrid offer", "value": 3000}, id="o1")
        ),
    )
    _, result, _ = await turn(owner, run, "Add Dana to the pipeline")
    assert result.tool_parts[0]["status"] == "done"
    assert composio_api.opportunities == [
        {
            "user_id": f"{owner.tenant_id}:{owner.user_id}",
            "contact_id": "c-7",
            "name": "Hybrid offer",
            "value": 3000,
        }
    ]

    # Another member, and a member of another workspace, are other Composio users: not connected.
    mia = await new_ctx(tenant.id, "mia@example.com")
    eve = await new_ctx(other_tenant.id, "eve@example.com")
    for other in (mia, eve):
        assert {c.toolkit: c.status for c in await composio.connections(other)}["highlevel"] == ""

    # An agent without Composio tools never asks Composio (nothing waits for it before the first token).
    composio._lists.clear()
    asked = len(composio_api.requests)
    plain = await store.create_agent(owner, AgentDraft("Maths", tools=(ToolChoice("calculator"),)))
    assert [t["name"] for t in (await runner.prepare(owner, plain, None)).tools] == ["calculator"]
    assert len(composio_api.requests) == asked

    # A template's web search becomes the workspace's Composio search; an admin may narrow the toolkits.
    made = await gallery.use_template(owner, "dcm")
    assert SEARCH in {t.name for t in made.tools}
    await composio.set_composio(owner, toolkits=["composio_search"])
    assert CONTACTS not in await store.tool_names(owner) and SEARCH in await store.tool_names(owner)


async def test_without_a_key_there_are_no_composio_tools(
    tenant, llm, no_server_providers, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("COMPOSIO_API_KEY", "")
    get_settings.cache_clear()
    owner = await agent_owner(tenant, llm, "openai_compatible")
    assert not any(n.startswith("composio_") for n in await store.tool_names(owner))
    assert await composio.connections(owner) == []


async def test_a_key_composio_refuses_is_not_saved_and_one_it_accepts_is(  # type: ignore[no-untyped-def]
    tenant, composio_api, caplog
) -> None:
    owner = await new_ctx(tenant.id, "otto@example.com", role="owner")
    with pytest.raises(ValidationError, match="Composio refused this API key") as refused:
        await composio.set_composio(owner, api_key="  not-a-composio-key ", toolkits=["composio_search"])
    assert "not-a-composio-key" not in str(refused.value) and "not-a-composio-key" not in caplog.text
    assert composio_api.used_keys[-1] == "not-a-composio-key"  # it was the key Composio was asked with
    before = await composio.settings_of(tenant.id)
    assert not before.own_key and before.toolkits == composio.DEFAULT_TOOLKITS  # nor did the toolkits change
    assert SEARCH in {t.name for t in await composio.workspace_tools(owner)}  # still the operator's key
    assert composio_api.used_keys[-1] == composio_api.api_key

    composio_api.keys.add("workspace-own-key")
    await composio.set_composio(owner, api_key="workspace-own-key", toolkits=["composio_search"])
    after = await composio.settings_of(tenant.id)
    assert after.own_key and after.api_key == "workspace-own-key" and after.toolkits == ("composio_search",)
    assert [t.name for t in await composio.workspace_tools(owner)] == [SEARCH]
    assert composio_api.used_keys[-1] == "workspace-own-key"
    async with tenant_session(tenant.id) as session:
        details = (
            await session.exec(select(AuditLog.detail).where(AuditLog.action == "composio.settings"))
        ).all()
    assert details and all("workspace-own-key" not in str(d) for d in details)


async def test_a_key_is_not_saved_when_composio_cannot_be_reached(  # type: ignore[no-untyped-def]
    tenant, composio_api, monkeypatch
) -> None:
    with socket.socket() as probe:  # a loopback port nothing listens on
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]
    monkeypatch.setenv("COMPOSIO_BASE_URL", f"http://127.0.0.1:{closed}")
    monkeypatch.setattr(composio, "CHECK_TIMEOUT", 2.0)
    get_settings.cache_clear()
    owner = await new_ctx(tenant.id, "otto@example.com", role="owner")
    with pytest.raises(ValidationError, match="could not be reached") as unreachable:
        await composio.set_composio(owner, api_key="workspace-own-key")
    assert "COMPOSIO_BASE_URL" in str(unreachable.value) and "not saved" in str(unreachable.value)
    assert "workspace-own-key" not in str(unreachable.value)
    assert not (await composio.settings_of(tenant.id)).own_key
