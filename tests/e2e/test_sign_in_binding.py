"""Login CSRF in a real browser: the page load gives each browser its own HttpOnly binding cookie, the
sign-in form's ticket is bound to it, and a ticket planted in another browser signs nobody in."""

from __future__ import annotations

import re
import uuid

from playwright.async_api import Browser, Page, expect

from services import tenants
from services.auth.accounts import authenticate, issue_login_ticket
from services.context import TenantCtx
from services.db import global_session
from tests.conftest import password_user

pytestmark = __import__("pytest").mark.e2e
PASSWORD = "a long enough passphrase"


async def _cookies(page: Page) -> dict[str, dict]:  # type: ignore[type-arg]
    return {c["name"]: dict(c) for c in await page.context.cookies()}


async def test_ticket_of_another_browser_signs_nobody_in(app_server, page: Page, browser: Browser) -> None:
    async with global_session() as session:
        default = await tenants.get_by_slug(session, "default")
    assert default is not None
    tctx = TenantCtx(tenant_id=default.id, ip="198.51.100.2")
    email = f"bind-{uuid.uuid4().hex[:8]}@example.com"
    user = await password_user(tctx, email=email, password=PASSWORD, name="Bound")

    await page.goto(app_server.url("/login"))
    await expect(page.get_by_role("button", name="Log in")).to_be_visible()
    mine = (await _cookies(page))["solo_login"]
    assert mine["httpOnly"] is True and mine["sameSite"] == "Lax"

    # The attacker's ticket (bound to the attacker's browser) opened in the victim's browser: refused.
    attacker = await browser.new_context()
    try:
        other = await attacker.new_page()
        await other.goto(app_server.url("/login"))
        await expect(other.get_by_role("button", name="Log in")).to_be_visible()
        theirs = {c["name"]: c["value"] for c in await attacker.cookies()}["solo_login"]
    finally:
        await attacker.close()
    assert theirs != mine["value"]
    planted = await issue_login_ticket(tctx, user.id, binding=theirs)
    await page.goto(app_server.url(f"/auth/complete?ticket={planted}"))
    await expect(page).to_have_url(re.compile(r"/login/?\?error="))
    await expect(page.get_by_role("alert")).to_be_visible()
    assert "solo_session" not in await _cookies(page)

    # The form in this browser still signs in: its websocket carried this browser's own binding.
    await page.get_by_label("Email").fill(email)
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Log in").click()
    account = page.get_by_role("button", name="Account", exact=True)
    await expect(account).to_contain_text("Bound", timeout=30_000)  # a loaded CI machine hashes slowly
    ctx = await authenticate(default.id, (await _cookies(page))["solo_session"]["value"])
    assert ctx is not None and ctx.user_id == user.id

    await page.goto(app_server.url("/settings"))
    await expect(page.get_by_role("heading", name="Connected accounts")).to_be_visible()
    await expect(page.get_by_text("No provider is connected yet.")).to_be_visible()
