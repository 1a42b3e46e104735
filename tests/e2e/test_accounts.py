"""Email confirmation banner and page, and accepting an invitation, in a real browser."""

from __future__ import annotations

import uuid
from datetime import timedelta

from playwright.async_api import Page, expect

from services import tenants
from services.auth import invites
from services.auth.accounts import find_user, issue_token
from services.context import TenantCtx
from services.db import global_session, tenant_session
from tests.conftest import make_user, unique_slug
from tests.e2e.test_shell import PASSWORD, _sign_up, at

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
