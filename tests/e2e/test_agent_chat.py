"""Chatting with an agent in a real browser: the chat opened from an agent (/?agent=<id>) shows the agent and its
starters; the request at the fake provider carries the agent's instructions and tools; the model's scripted tool
call runs (the real calculator) and shows as a card with its result, then the answer; a reload keeps both."""

from __future__ import annotations

import re
import uuid

import pytest
from playwright.async_api import Page, expect

from services import tenants
from services.agents import store
from services.agents.store import AgentDraft, ToolChoice
from services.db import global_session
from tests.conftest import make_user, unique_slug
from tests.e2e.test_markdown import SHOTS
from tests.e2e.test_memory_page import _member_ctx
from tests.e2e.test_shell import PASSWORD, _sign_up, at
from tests.fakes.llm_server import FakeLLMServer, FakeToolCall
from tests.services.test_agent_loop import calls_until_answered, tool_results

pytestmark = pytest.mark.e2e


async def test_a_chat_with_an_agent_shows_its_tool_calls_as_cards_that_a_reload_keeps(
    app_server, page: Page, llm: FakeLLMServer
) -> None:
    async with global_session() as session:
        t = await tenants.create_tenant(session, name="Agents", slug=unique_slug("agt"), accent_color="iris")
    host = f"{t.slug}.localhost"
    await make_user(t.id, f"owner-{uuid.uuid4().hex[:6]}@example.com", password=PASSWORD, name="Otto Owner")
    email = f"ana-{uuid.uuid4().hex[:6]}@example.com"
    await _sign_up(page, app_server.url("/signup", host=host), "Ana Agent", email)
    await expect(page).to_have_url(at(app_server, "/", host=host))
    ctx = await _member_ctx(t.id, email)
    agent = await store.create_agent(
        ctx,
        AgentDraft(
            "Price checker", "Works out prices.", "🧮", "Offers", "You are Price checker. Use the calculator.",
            tools=(ToolChoice("calculator"),), starters=("What is 2 + 3 * 4?",),
        ),
    )  # fmt: skip
    llm.configure(
        reply=lambda body: "It is 14." if tool_results(body) else "Let me calculate.",
        tool_calls=calls_until_answered(FakeToolCall("calculator", {"expression": "2 + 3 * 4"}, id="calc1")),
    )

    await page.goto(app_server.url(f"/?agent={agent.id}", host=host))
    intro = page.locator("#agent-intro")
    await expect(intro).to_contain_text("Price checker")
    await expect(intro).to_contain_text("Works out prices.")
    await expect(page.locator("#chat-agent")).to_contain_text("Price checker")
    await intro.get_by_role("button", name="What is 2 + 3 * 4?").click()

    reply = page.locator(".solo-message[data-role='assistant']").last
    await expect(reply).to_contain_text("It is 14.", timeout=30_000)
    card = reply.locator(".solo-tool-card[data-tool='calculator']")
    await expect(card).to_have_attribute("data-status", "done")
    await expect(card).to_contain_text("Done")
    await expect(card.get_by_text("Result")).not_to_be_visible()  # collapsed
    await card.locator("summary").click()
    await expect(card.locator(".solo-tool-pre").last).to_contain_text("14")
    SHOTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(SHOTS / "agent-chat-tool-card.png"), full_page=True)

    asked = [r.body for r in llm.chat_requests() if r.body.get("tools")]
    assert asked, "no request offered the agent's tools"
    first = asked[0]
    assert first["messages"][0]["role"] == "system"
    assert "You are Price checker." in first["messages"][0]["content"]
    assert [t["function"]["name"] for t in first["tools"]] == ["calculator"]

    await expect(page).to_have_url(re.compile(r"/c/[0-9a-f-]{36}$"))
    await page.reload()
    reply = page.locator(".solo-message[data-role='assistant']").last
    await expect(reply).to_contain_text("It is 14.")
    await expect(reply.locator(".solo-tool-card[data-tool='calculator']")).to_have_attribute(
        "data-status", "done"
    )
    await expect(page.locator("#chat-agent")).to_contain_text("Price checker")


async def test_a_member_connects_gohighlevel_for_their_agents_in_settings(
    app_server, page: Page, fake_composio
) -> None:
    from services.tools import composio

    async with global_session() as session:
        t = await tenants.create_tenant(session, name="Connect", slug=unique_slug("cmp"), accent_color="iris")
    host = f"{t.slug}.localhost"
    await make_user(t.id, f"owner-{uuid.uuid4().hex[:6]}@example.com", password=PASSWORD, name="Otto Owner")
    email = f"cora-{uuid.uuid4().hex[:6]}@example.com"
    await _sign_up(page, app_server.url("/signup", host=host), "Cora Connect", email)
    await expect(page).to_have_url(at(app_server, "/", host=host))
    await page.goto(app_server.url("/settings", host=host))
    section = page.get_by_role("region", name="Connections")
    crm = section.locator(".solo-connection-row[data-toolkit='highlevel']")
    await expect(crm).to_contain_text("Not connected", timeout=20_000)  # the first use imports the SDK
    await expect(section.locator(".solo-connection-row[data-toolkit='composio_search']")).to_contain_text(
        "Connected"
    )
    SHOTS.mkdir(parents=True, exist_ok=True)
    await section.screenshot(path=str(SHOTS / "settings-connections.png"))

    # Composio's hosted sign-in (no internet here: the browser is answered by a stand-in page).
    await page.route(
        "https://connect.example.com/**", lambda route: route.fulfill(status=200, body="Composio sign-in")
    )
    await crm.get_by_role("button", name="Connect GoHighLevel").click()
    await expect(page).to_have_url(re.compile(r"^https://connect\.example\.com/ca_"))
    ctx = await _member_ctx(t.id, email)
    linked = [r for r in fake_composio.requests if r[1].endswith("/connected_accounts/link")]
    assert linked and linked[-1][3]["user_id"] == composio.user_id_for(ctx)  # made on the server
    assert linked[-1][3]["callback_url"].endswith("/settings?tools=1")
    fake_composio.activate(composio.user_id_for(ctx))
    await page.goto(app_server.url("/settings", host=host))
    await expect(page.locator(".solo-connection-row[data-toolkit='highlevel']")).to_contain_text("Connected")


async def test_an_owner_sets_the_workspaces_composio_key_and_toolkits(
    app_server, page: Page, fake_composio
) -> None:
    from services.tools import composio
    from tests.e2e.test_members import _owner_signed_in

    _host, tenant_id = await _owner_signed_in(app_server, page, "cmpa")
    await page.get_by_role("link", name="Tools").first.click()
    section = page.get_by_role("region", name="Composio")
    await expect(section.locator("#composio-source")).to_contain_text("The server's key")
    await expect(section.get_by_label("Toolkits")).to_have_value("composio_search, highlevel")
    await section.get_by_label("Composio API key").fill(fake_composio.api_key)
    await section.get_by_label("Toolkits").fill("composio_search")
    await section.get_by_role("button", name="Save Composio settings").click()
    await expect(section.get_by_role("status")).to_contain_text("stored encrypted")
    await expect(section.locator("#composio-source")).to_contain_text("This workspace's own key")
    await expect(section.get_by_label("Toolkits")).to_have_value("composio_search")
    assert fake_composio.api_key not in await page.content()
    SHOTS.mkdir(parents=True, exist_ok=True)
    await section.screenshot(path=str(SHOTS / "admin-composio.png"))
    view = await composio.settings_of(uuid.UUID(tenant_id))
    assert view.own_key and view.toolkits == ("composio_search",)
    await section.get_by_role("button", name="Use the server's key").click()
    await expect(section.locator("#composio-source")).to_contain_text("The server's key")
