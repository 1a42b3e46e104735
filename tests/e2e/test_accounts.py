"""Email confirmation banner and page, and accepting an invitation, in a real browser."""

from __future__ import annotations

import re
import uuid
from datetime import timedelta

from playwright.async_api import Page, expect

from services import tenants
from services.auth import invites
from services.auth.accounts import find_user, issue_token
from services.context import TenantCtx
from services.db import global_session, tenant_session
from tests.conftest import make_user, unique_slug
from tests.e2e.test_shell import PASSWORD, _log_in, _sign_up, at

pytestmark = __import__("pytest").mark.e2e


async def test_unverified_user_sees_the_banner_resends_and_confirms(app_server, page: Page) -> None:
    async with global_session() as session:
        t = await tenants.create_tenant(session, name="Verify", slug=unique_slug("ver"))
    await make_user(t.id, f"boss-{uuid.uuid4().hex[:6]}@example.com")
    host = f"{t.slug}.localhost"
    email = f"new-{uuid.uuid4().hex[:6]}@example.com"
    await _sign_up(page, app_server.url("/signup", host=host), "Nora New", email)
    await expect(page).to_have_url(at(app_server, "/", host=host))
    banner = page.locator("#verify-banner")
    await expect(banner).to_contain_text(f"Confirm your email: we sent a link to {email}")
    await banner.get_by_role("button", name="Email me the link again").click()
    await expect(banner).to_contain_text(f"Sent again to {email}.")

    async with tenant_session(t.id) as session:
        user = await find_user(session, email)
    assert user is not None
    token = await issue_token(TenantCtx(t.id), user.id, "verify", timedelta(hours=1))
    await page.goto(app_server.url(f"/verify/{token}", host=host))
    await page.get_by_role("button", name="Confirm my email").click()
    await expect(page.get_by_role("status")).to_contain_text(f"{email} is confirmed")
    await page.goto(app_server.url("/", host=host))
    await expect(page.get_by_role("button", name="Account", exact=True)).to_contain_text("Nora New")
    await expect(page.locator("#verify-banner")).to_have_count(0)


async def test_invited_owner_accepts_and_is_signed_in(app_server, page: Page) -> None:
    async with global_session() as session:
        t = await tenants.create_tenant(session, name="Invited", slug=unique_slug("inv"))
    host = f"{t.slug}.localhost"
    # Nobody may sign up before the owner has joined.
    await page.goto(app_server.url("/signup", host=host))
    await page.get_by_label("Email").fill("early@example.com")
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Sign up").click()
    await expect(page.get_by_role("alert")).to_contain_text("This workspace is not open yet")

    _, token = await invites.create_invitation(t.id, email="olive@example.com", role="owner")
    await page.goto(app_server.url(f"/invite/{token}", host=host))
    await page.get_by_label("Name").fill("Olive Owner")
    await page.get_by_label("Password", exact=True).fill(PASSWORD)
    await page.get_by_label("Repeat password").fill("not the same password")
    await page.get_by_role("button", name="Accept invitation").click()
    await expect(page.get_by_role("alert")).to_contain_text("do not match")
    await page.get_by_label("Repeat password").fill(PASSWORD)
    await page.get_by_role("button", name="Accept invitation").click()
    await expect(page).to_have_url(at(app_server, "/", host=host))
    await expect(page.get_by_role("button", name="Account", exact=True)).to_contain_text("Olive Owner")
    await expect(page.get_by_role("link", name="Members").first).to_be_visible()
    await expect(page.locator("#verify-banner")).to_have_count(0)

    # The owner closes sign-ups and invites a coach from the Members page.
    await page.get_by_role("link", name="Members").first.click()
    await page.get_by_role("radio", name="Invitation only").click()
    await page.get_by_role("button", name="Save").click()
    await expect(page.get_by_role("status")).to_contain_text("who may join is updated")
    assert (await tenants.get_signup_policy(t.id)).mode == "invite"
    await page.get_by_label("Invite by email").fill("coach@example.com")
    await page.get_by_role("button", name="Invite").click()
    await expect(page.get_by_role("status")).to_contain_text(
        "Invitation sent to coach@example.com (as member)"
    )


async def test_settings_forms_answer_inside_themselves_and_keep_what_was_typed(
    app_server, page: Page
) -> None:
    email = f"set-{uuid.uuid4().hex[:6]}@example.com"
    await _sign_up(page, app_server.url("/signup"), "Sam Settings", email)
    await page.goto(app_server.url("/settings"))
    password_form = page.locator("form").filter(has=page.get_by_label("New password", exact=True))
    profile_form = page.locator("form").filter(has=page.get_by_label("Name"))
    # The page has hydrated and loaded its state (a click before that submits nothing): CI failed here once.
    await expect(page.get_by_label("Name")).to_have_value("Sam Settings", timeout=15_000)

    await page.get_by_label("Current password").fill(PASSWORD)
    await page.get_by_label("New password", exact=True).fill("a brand new passphrase")
    await page.get_by_label("Repeat new password").fill("a brand new passphrase!")
    await page.get_by_role("button", name="Change password").click()
    await expect(password_form.get_by_role("alert")).to_contain_text("do not match")
    await expect(profile_form.get_by_role("alert")).to_have_count(0)
    await expect(page.get_by_label("New password", exact=True)).to_have_value("a brand new passphrase")
    await expect(page.get_by_label("Current password")).to_have_value(PASSWORD)

    await page.get_by_label("Repeat new password").fill("a brand new passphrase")
    await page.get_by_label("Current password").fill("not my password at all")
    await page.get_by_role("button", name="Change password").click()
    await expect(password_form.get_by_role("alert")).to_contain_text("current password is not right")
    await expect(page.get_by_label("New password", exact=True)).to_have_value("a brand new passphrase")

    await page.get_by_label("Name").fill("Samantha")
    await profile_form.get_by_role("button", name="Save").click()
    await expect(profile_form.get_by_role("status")).to_have_text("Saved.")
    await expect(password_form.get_by_role("alert")).to_have_count(0)  # each form its own outcome
    await expect(page.get_by_label("Name")).to_have_value("Samantha")

    await page.get_by_label("Current password").fill(PASSWORD)
    await page.get_by_role("button", name="Change password").click()
    await expect(password_form.get_by_role("status")).to_contain_text("Password changed.")
    await expect(page.get_by_label("New password", exact=True)).to_have_value("")  # emptied after the change


async def test_sessions_are_listed_and_revoked_one_by_one(app_server, browser, page: Page) -> None:
    async with global_session() as session:
        t = await tenants.create_tenant(session, name="Sessions", slug=unique_slug("ses"))
    host = f"{t.slug}.localhost"
    email = f"two-{uuid.uuid4().hex[:6]}@example.com"
    await make_user(t.id, email, password=PASSWORD, name="Tess Two")
    phone_ctx = await browser.new_context(
        user_agent="Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 "
        "(KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1"
    )
    phone = await phone_ctx.new_page()
    try:
        for p in (phone, page):
            await _log_in(p, app_server.url("/login", host=host), email)
            await expect(p).to_have_url(at(app_server, "/", host=host), timeout=20_000)
        await page.goto(app_server.url("/settings", host=host))
        rows = page.locator("tr")
        await expect(rows).to_have_count(2)
        await expect(rows.first).to_contain_text("This device")
        await expect(rows.first).to_contain_text("Chrome on Linux")
        await expect(rows.nth(1)).to_contain_text("Safari on iPhone")
        await expect(rows.nth(1)).to_contain_text("IP 127.0.0.1")
        await expect(rows.nth(1)).not_to_contain_text("This device")

        await rows.nth(1).get_by_role("button", name=re.compile("^Revoke Safari on iPhone")).click()
        await expect(
            page.get_by_role("status").filter(has_text="Safari on iPhone is signed out")
        ).to_be_visible()
        await expect(rows).to_have_count(1)
        await phone.goto(app_server.url("/settings", host=host))  # the revoked session no longer works
        await expect(phone).to_have_url(at(app_server, "/login", host=host))

        # Revoking this device's own session is logging out.
        await page.get_by_role("button", name="Log out of this device").click()
        await expect(page).to_have_url(at(app_server, "/login", host=host))
        await page.goto(app_server.url("/settings", host=host))
        await expect(page).to_have_url(at(app_server, "/login", host=host))
    finally:
        await phone_ctx.close()


async def test_a_member_deletes_their_account_after_typing_their_email(app_server, page: Page) -> None:
    from tests.e2e.test_markdown import SHOTS

    async with global_session() as session:
        t = await tenants.create_tenant(session, name="Leave", slug=unique_slug("del"))
    await make_user(t.id, f"boss-{uuid.uuid4().hex[:6]}@example.com")
    host = f"{t.slug}.localhost"
    email = f"gone-{uuid.uuid4().hex[:6]}@example.com"
    await _sign_up(page, app_server.url("/signup", host=host), "Gil Gone", email)
    await expect(page).to_have_url(at(app_server, "/", host=host))
    await page.goto(app_server.url("/settings", host=host))
    section = page.get_by_role("region", name="Delete account")
    await expect(section).to_contain_text(f"To confirm, type {email} below.")
    await section.get_by_label("Your email address").fill("someone-else@example.com")
    await section.get_by_role("button", name="Delete my account").click()
    await expect(section.get_by_role("alert")).to_contain_text("Nothing was deleted")
    SHOTS.mkdir(parents=True, exist_ok=True)
    await section.screenshot(path=str(SHOTS / "settings-delete-account.png"))

    await section.get_by_label("Your email address").fill(email)
    await section.get_by_role("button", name="Delete my account").click()
    await expect(page).to_have_url(re.compile(r"/login"), timeout=20_000)
    async with tenant_session(t.id) as session:
        assert await find_user(session, email) is None
    await _log_in(page, app_server.url("/login", host=host), email)
    await expect(page.get_by_role("alert")).to_be_visible()
    await expect(page).to_have_url(re.compile(r"/login"))
