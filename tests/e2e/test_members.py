"""Members page in a real browser: a member is refused on the server; the owner changes a role and suspends
the member, whose session ends at once."""

from __future__ import annotations

import re
import uuid

from playwright.async_api import Page, expect

from services import tenants
from services.db import global_session
from tests.conftest import make_user, unique_slug
from tests.e2e.test_shell import PASSWORD, _log_in, _sign_up, at

pytestmark = __import__("pytest").mark.e2e


async def test_owner_manages_members_and_suspension_ends_sessions(app_server, browser, page: Page) -> None:
    async with global_session() as session:
        t = await tenants.create_tenant(session, name="Team", slug=unique_slug("team"), accent_color="green")
    host = f"{t.slug}.localhost"
    owner_email = f"owner-{uuid.uuid4().hex[:6]}@example.com"
    member_email = f"member-{uuid.uuid4().hex[:6]}@example.com"
    await make_user(t.id, owner_email, password=PASSWORD, name="Olivia Owner")  # as `solo user create`
    await _log_in(page, app_server.url("/login", host=host), owner_email)
    await expect(page).to_have_url(at(app_server, "/", host=host))

    member_ctx = await browser.new_context()
    member = await member_ctx.new_page()
    try:
        await _sign_up(member, app_server.url("/signup", host=host), "Max Member", member_email)
        await expect(member).to_have_url(at(app_server, "/", host=host))
        await expect(member.get_by_role("link", name="Members")).to_have_count(0)
        # Typing the address does not help: the server refuses.
        await member.goto(app_server.url("/members", host=host))
        await expect(member.get_by_role("alert")).to_contain_text("You do not have permission")
        await expect(member.get_by_text(owner_email)).to_have_count(0)

        await page.get_by_role("link", name="Members").first.click()
        await expect(page.get_by_text(member_email)).to_be_visible()
        await page.get_by_role("combobox", name=f"Role of {member_email}").click()
        await page.get_by_role("option", name="instructor").click()
        await expect(page.get_by_role("status")).to_contain_text(f"{member_email} is now instructor.")

        row = page.get_by_role("row").filter(has_text=member_email)
        await row.get_by_role("button", name="Suspend").click()
        await expect(page.get_by_role("status")).to_contain_text(f"{member_email} is suspended")
        await expect(row.get_by_text("suspended")).to_be_visible()

        await member.goto(app_server.url("/settings", host=host))
        await expect(member).to_have_url(at(app_server, "/login", host=host))
        await member.get_by_label("Email").fill(member_email)
        await member.get_by_label("Password").fill(PASSWORD)
        await member.get_by_role("button", name="Log in").click()
        await expect(member.get_by_role("alert")).to_contain_text(re.compile("suspended"))
    finally:
        await member_ctx.close()
