"""MCP servers as agent tools, against a real MCP server on loopback (the SDK's own server class): an admin adds
it with a token header (stored encrypted), its tools are listed; an agent offers one and the model's call reaches
the server with the token; a tool error is the model's to read; members cannot add servers, another workspace
sees none of it, and a private address is refused unless the operator allows it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from services.agents import runner, store
from services.agents.store import AgentDraft, ToolChoice
from services.errors import PermissionDenied, ValidationError
from services.tools import mcp
from tests.fakes.llm_server import FakeToolCall
from tests.fakes.mcp_server import McpTestServer
from tests.services.test_agent_loop import agent_owner, calls_until_answered, tool_results, turn
from tests.services.test_chat_support import new_ctx, sql


@pytest.fixture
def crm() -> Iterator[McpTestServer]:
    with McpTestServer(token="crm-token") as server:
        yield server


async def test_an_agent_calls_a_workspace_mcp_server_with_its_token(  # type: ignore[no-untyped-def]
    tenant, other_tenant, llm, no_server_providers, crm
) -> None:
    owner = await agent_owner(tenant, llm, "openai_compatible")
    server = await mcp.add_server(owner, "Our CRM", crm.url, {"Authorization": "Bearer crm-token"})
    assert server.error == "" and server.slug == "ourcrm" and server.header_names == ("Authorization",)
    assert [t["name"] for t in server.tools] == ["add", "lookup_contact", "whoami"]
    stored = await sql(tenant.id, "SELECT headers_encrypted FROM mcp_servers WHERE id = :s", s=server.id)
    assert "crm-token" not in stored[0][0]  # encrypted at rest

    name = mcp.tool_name("ourcrm", "lookup_contact")
    assert name in await store.tool_names(owner)
    agent = await store.create_agent(owner, AgentDraft("CRM helper", tools=(ToolChoice(name),)))
    llm.configure(
        reply=lambda body: "Dana has a discovery call booked." if tool_results(body) else "",
        tool_calls=calls_until_answered(
            FakeToolCall(name, {"email": "dana@example.com"}, id="m1"),
            FakeToolCall(name, {"email": "nobody@example.com"}, id="m2"),
        ),
    )
    run = await runner.prepare(owner, agent, None)
    assert [t["name"] for t in run.tools] == [name]
    assert "Find a contact" in run.tools[0]["description"]
    _, result, _ = await turn(owner, run, "Where is Dana in the pipeline?")
    assert not result.failed, result.error
    by_id = {p["id"]: p for p in result.tool_parts}
    assert by_id["m1"]["status"] == "done" and "Discovery call booked" in by_id["m1"]["result"]
    assert (
        by_id["m2"]["status"] == "error"
        and "No contact has the email nobody@example.com" in by_id["m2"]["error"]
    )
    assert [(c[0], c[2]) for c in crm.calls] == [("lookup_contact", "Bearer crm-token")] * 2

    # Members do not add servers; another workspace neither sees the server nor may offer its tools.
    mia = await new_ctx(tenant.id, "mia@example.com")
    with pytest.raises(PermissionDenied):
        await mcp.add_server(mia, "Mine", crm.url)
    eve = await agent_owner(other_tenant, llm, "openai_compatible")
    assert await mcp.list_servers(eve) == [] and name not in await store.tool_names(eve)
    with pytest.raises(ValidationError, match="no tool"):
        await store.create_agent(eve, AgentDraft("Sneaky", tools=(ToolChoice(name),)))
    assert await sql(other_tenant.id, "SELECT count(*) FROM mcp_servers") == [(0,)]

    # Turned off: its tools leave the agents that had them (the saved agent keeps the name).
    await mcp.set_enabled(owner, server.id, False)
    assert (await runner.prepare(owner, agent, None)).tools == ()


async def test_a_wrong_token_or_a_private_address_is_explained(  # type: ignore[no-untyped-def]
    tenant, llm, no_server_providers, crm, monkeypatch
) -> None:
    owner = await agent_owner(tenant, llm, "openai_compatible")
    bad = await mcp.add_server(owner, "CRM", crm.url, {"Authorization": "Bearer wrong"})
    assert bad.tools == () and bad.error.startswith("The MCP server")
    fixed = await mcp.check_again(owner, bad.id)
    assert fixed.error == bad.error  # still wrong: nothing else changed
    await mcp.remove_server(owner, bad.id)
    assert await mcp.list_servers(owner) == []

    from services.config import get_settings

    monkeypatch.setenv("SOLO_OUTBOUND_ALLOW", "")
    get_settings.cache_clear()
    with pytest.raises(ValidationError, match="public server"):
        await mcp.add_server(owner, "Local", crm.url)
