"""Admin → Tools in a real browser, against a real MCP server on loopback (tests/fakes/mcp_server.py): the owner
opens Tools from the navigation, sees the built-in tools, is told beside the form what is wrong with a private
address or a bad header name (the form keeps what was typed), adds the server with its token and sees its three
tools (the token never comes back to the page); a wrong token is saved with the server's error and "Check
again"; the switch turns a server off; Remove after confirming empties the list. A member of the same workspace
sees no Tools link and is refused on the server. Screenshots: desktop light, phone dark."""

from __future__ import annotations

import uuid

import pytest
from playwright.async_api import Page, expect

from tests.conftest import make_user
from tests.e2e.test_agents import OVERFLOW
from tests.e2e.test_markdown import SHOTS
from tests.e2e.test_members import _owner_signed_in
from tests.e2e.test_shell import PASSWORD, _log_in, at
from tests.fakes.mcp_server import McpTestServer

pytestmark = pytest.mark.e2e

TOKEN = "crm-e2e-token-7f3a"
TOOLS = ("mcp_ourcrm_add", "mcp_ourcrm_lookup_contact", "mcp_ourcrm_whoami")


async def _shoot(page: Page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(SHOTS / f"admin-tools-{name}.png"), full_page=True)


async def test_owner_adds_checks_and_removes_an_mcp_server(app_server, browser, page: Page) -> None:  # type: ignore[no-untyped-def]
    host, tenant_id = await _owner_signed_in(app_server, page, "tools")
    with McpTestServer(token=TOKEN) as crm:
        await page.get_by_role("link", name="Tools").first.click()
        await expect(page).to_have_url(at(app_server, "/admin/tools", host=host))
        await expect(page.get_by_role("heading", name="Tools", exact=True)).to_be_visible()
        builtins = page.get_by_role("list", name="Built-in tools")
        for name in ("current_time", "calculator", "file_search"):
            await expect(builtins.get_by_text(name, exact=True)).to_be_visible()
        await expect(builtins).to_contain_text("Evaluate an arithmetic expression")
        servers = page.get_by_role("region", name="MCP servers")
        await expect(servers.get_by_text("No MCP servers yet.")).to_be_visible()

        # Refused beside the form, which keeps what was typed: a private address, then a bad header name.
        form = page.get_by_role("region", name="Add an MCP server")
        await form.get_by_label("Name", exact=True).fill("Our CRM")
        await form.get_by_label("URL").fill("http://10.1.2.3/mcp")
        await form.get_by_label("Header name").fill("Authorization")
        await form.get_by_label("Header value").fill(f"Bearer {TOKEN}")
        await form.get_by_role("button", name="Add server").click()
        await expect(form.get_by_role("alert")).to_contain_text("must point at a public server")
        await expect(form.get_by_label("Name", exact=True)).to_have_value("Our CRM")
        await expect(form.get_by_label("Header value")).to_have_value(f"Bearer {TOKEN}")
        await form.get_by_label("URL").fill(crm.url)
        await form.get_by_label("Header name").fill("Bad header")
        await form.get_by_role("button", name="Add server").click()
        await expect(form.get_by_role("alert")).to_contain_text("letters, digits and dashes")
        await expect(servers.get_by_text("No MCP servers yet.")).to_be_visible()

        # A second header row; then the server answers with its three tools, and the form empties.
        await form.get_by_label("Header name").fill("Authorization")
        await form.get_by_role("button", name="Add a header").click()
        await form.get_by_label("Header name").nth(1).fill("X-Team")
        await form.get_by_label("Header value").nth(1).fill("sales")
        await form.get_by_role("button", name="Add server").click()
        await expect(form.get_by_role("status")).to_have_text(
            "Added Our CRM: it offers 3 tools. Its headers are stored encrypted and never shown again.",
            timeout=20_000,  # the first connection in a fresh app loads the MCP SDK
        )
        await expect(form.get_by_role("alert")).to_have_count(0)
        await expect(form.get_by_label("Name", exact=True)).to_have_value("")
        await expect(form.get_by_label("Header value")).to_have_count(1)
        await expect(form.get_by_label("Header value")).to_have_value("")
        ours = servers.get_by_role("group", name="Our CRM")
        for tool in TOOLS:
            await expect(ours.get_by_text(tool, exact=True)).to_be_visible()
        await expect(ours).to_contain_text("Find a contact of the CRM by email address.")
        await expect(ours).to_contain_text("Authorization: ••••")
        await expect(ours).to_contain_text("X-Team: ••••")
        assert TOKEN not in await page.content()

        # A wrong token: saved with the server's error, and Check again asks once more.
        await form.get_by_label("Name", exact=True).fill("Old CRM")
        await form.get_by_label("URL").fill(crm.url)
        await form.get_by_label("Header name").fill("Authorization")
        await form.get_by_label("Header value").fill("Bearer wrong")
        await form.get_by_role("button", name="Add server").click()
        await expect(form.get_by_role("alert")).to_contain_text(
            "Saved Old CRM, but it did not list its tools: The MCP server refused the request"
        )
        old = servers.get_by_role("group", name="Old CRM")
        await expect(old).to_contain_text("The MCP server refused the request")
        await expect(old.get_by_text("error", exact=True)).to_be_visible()
        await old.get_by_role("button", name="Check again").click()
        await expect(servers.get_by_role("alert")).to_contain_text("Old CRM still did not list its tools")
        await ours.get_by_role("button", name="Check again").click()
        await expect(servers.get_by_role("status")).to_have_text("Checked Our CRM: it offers 3 tools.")

        # The switch turns a server off (and it stays off).
        switch = ours.get_by_role("switch", name="Enabled")
        await expect(switch).to_be_checked()
        await switch.click()
        await expect(servers.get_by_role("status")).to_contain_text("Our CRM is off")
        await expect(switch).not_to_be_checked()
        await page.reload()
        await expect(servers.get_by_role("group", name="Our CRM").get_by_role("switch")).not_to_be_checked()
        await servers.get_by_role("group", name="Our CRM").get_by_role("switch").click()
        await expect(servers.get_by_role("status")).to_contain_text("Our CRM is on")

        await page.set_viewport_size({"width": 1280, "height": 900})
        await _shoot(page, "desktop-light")
        await page.emulate_media(color_scheme="dark")
        await page.set_viewport_size({"width": 390, "height": 844})  # a phone
        await expect(servers.get_by_role("group", name="Old CRM")).to_be_visible()
        width, window = await page.evaluate(OVERFLOW)
        assert width <= window, f"the page is {width}px wide on a {window}px phone"
        await _shoot(page, "phone-dark")
        await page.emulate_media(color_scheme="light")
        await page.set_viewport_size({"width": 1100, "height": 800})

        # Remove, after confirming (Cancel keeps it).
        await servers.get_by_role("button", name="Remove Old CRM").click()
        dialog = page.get_by_role("alertdialog")
        await expect(dialog).to_contain_text("Remove Old CRM?")
        await expect(dialog).to_contain_text("its stored headers are deleted")
        await dialog.get_by_role("button", name="Cancel").click()
        await expect(dialog).to_have_count(0)
        await expect(servers.get_by_role("group", name="Old CRM")).to_be_visible()
        for name in ("Old CRM", "Our CRM"):
            await servers.get_by_role("button", name=f"Remove {name}").click()
            await page.get_by_role("alertdialog").get_by_role("button", name="Remove server").click()
            await expect(servers.get_by_role("status")).to_have_text(f"Removed {name}.")
        await expect(servers.get_by_role("group")).to_have_count(0)
        await expect(servers.get_by_text("No MCP servers yet.")).to_be_visible()

    # A member of the same workspace: no link, and typing the address does not help.
    member_email = f"member-{uuid.uuid4().hex[:6]}@example.com"
    await make_user(uuid.UUID(tenant_id), member_email, role="member", password=PASSWORD, name="Max Member")
    member_ctx = await browser.new_context()
    member = await member_ctx.new_page()
    try:
        await _log_in(member, app_server.url("/login", host=host), member_email)
        await expect(member).to_have_url(at(app_server, "/", host=host), timeout=20_000)
        await expect(member.get_by_role("link", name="Tools")).to_have_count(0)
        await member.goto(app_server.url("/admin/tools", host=host))
        await expect(member.get_by_role("alert")).to_contain_text("You do not have permission")
        await expect(member.get_by_role("region", name="Add an MCP server")).to_have_count(0)
        await expect(member.get_by_text("current_time")).to_have_count(0)
    finally:
        await member_ctx.close()
