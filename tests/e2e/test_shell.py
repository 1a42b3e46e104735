"""Sign up, log out, log in, dark mode, and a second tenant on another host, in a real browser."""

from __future__ import annotations

import re
import uuid

from playwright.async_api import Page, expect

from services import tenants
from services.context import TenantCtx
from services.db import global_session
from tests.conftest import join, make_user, unique_slug

pytestmark = __import__("pytest").mark.e2e
PASSWORD = "a long enough passphrase"


def at(server, path: str, host: str = "127.0.0.1") -> re.Pattern[str]:  # type: ignore[no-untyped-def]
    """The page's URL, with or without the trailing slash the static build adds. The sign-in page may carry
    `?next=` (the page to come back to)."""
    query = r"(\?next=[^&#]*)?" if path.rstrip("/") == "/login" else ""
    return re.compile("^" + re.escape(server.url(path.rstrip("/"), host=host)) + "/?" + query + "$")


async def _sign_up(page: Page, url: str, name: str, email: str) -> None:
    await page.goto(url)
    await page.get_by_label("Name").fill(name)
    await page.get_by_label("Email").fill(email)
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Sign up").click()
    # The same answer whether or not the email has an account; then the new account logs in.
    await expect(page.get_by_role("status")).to_contain_text(
        f"we sent an email to {email.lower()}", timeout=20_000
    )
    await _log_in(page, url.replace("/signup", "/login"), email)
    await expect(page).not_to_have_url(re.compile(r"/login/?$"), timeout=20_000)  # signed in (argon2 is slow)


async def _log_in(page: Page, url: str, email: str, password: str = PASSWORD) -> None:
    await page.goto(url)
    await page.get_by_label("Email").fill(email)
    await page.get_by_label("Password").fill(password)
    await page.get_by_role("button", name="Log in").click()


async def test_sign_up_log_out_log_in_and_dark_mode(app_server, page: Page) -> None:
    email = f"ada-{uuid.uuid4().hex[:8]}@example.com"
    await _sign_up(page, app_server.url("/signup"), "Ada Lovelace", email)
    await expect(page).to_have_url(at(app_server, "/"))
    await expect(page.locator("#tenant-name")).to_have_text("Solo OS AI")
    await expect(page.get_by_role("button", name="Account", exact=True)).to_contain_text("Ada Lovelace")

    await page.get_by_role("button", name="Account", exact=True).click()
    await page.get_by_role("menuitem", name="Log out").click()
    await expect(page).to_have_url(at(app_server, "/login"))
    # The old session is gone on the server: the workspace sends us back to the login page.
    await page.goto(app_server.url("/settings"))
    await expect(page).to_have_url(at(app_server, "/login"))

    await _log_in(page, app_server.url("/login"), email, "wrong password!!")
    await expect(page.get_by_role("alert")).to_contain_text("Wrong email or password.")
    await _log_in(page, app_server.url("/login"), email)
    await expect(page).to_have_url(at(app_server, "/"))

    html = page.locator("html")
    await expect(html).not_to_have_class(re.compile(r"\bdark\b"))
    await page.get_by_role("button", name="Account", exact=True).click()
    await page.get_by_role("menuitem", name="Dark mode").click()
    await expect(html).to_have_class(re.compile(r"\bdark\b"))
    await page.reload()
    await expect(page.get_by_role("button", name="Account", exact=True)).to_contain_text("Ada Lovelace")
    await expect(html).to_have_class(re.compile(r"\bdark\b"))


async def test_second_tenant_has_its_own_branding_and_accounts(app_server, page: Page) -> None:
    async with global_session() as session:
        acme = await tenants.create_tenant(
            session,
            name="Acme",
            slug=unique_slug("acme"),
            display_name="Acme Coaching",
            accent_color="crimson",
        )
        default = await tenants.get_by_slug(session, "default")
    assert default is not None
    email = f"grace-{uuid.uuid4().hex[:8]}@example.com"
    await join(
        TenantCtx(tenant_id=default.id, ip="198.51.100.1"), email=email, password=PASSWORD, name="Grace"
    )
    await make_user(acme.id, f"boss-{uuid.uuid4().hex[:8]}@example.com")  # owners come from the operator

    acme_host = f"{acme.slug}.localhost"
    await page.goto(app_server.url("/login", host=acme_host))
    await expect(page.locator("#tenant-name")).to_have_text("Acme Coaching")
    await expect(page).to_have_title(re.compile("Log in"))
    # The accent colour is the tenant's: Radix exposes it on the themed element.
    await expect(page.locator("[data-accent-color='crimson']").first).to_be_attached()

    # The default tenant's account does not exist in Acme.
    await _log_in(page, app_server.url("/login", host=acme_host), email)
    await expect(page.get_by_role("alert")).to_contain_text("Wrong email or password.")

    # Sign up in Acme with the same email: a separate account, its own workspace.
    await _sign_up(page, app_server.url("/signup", host=acme_host), "Grace at Acme", email)
    await expect(page).to_have_url(at(app_server, "/", host=acme_host))
    await expect(page.locator("#tenant-name")).to_have_text("Acme Coaching")
    # Acme's session cookie does not sign anybody in on the default tenant's host.
    await page.goto(app_server.url("/", host="127.0.0.1"))
    await expect(page).to_have_url(at(app_server, "/login"))


async def test_unknown_host_says_no_such_workspace(app_server, page: Page) -> None:
    await page.goto(app_server.url("/login", host="nobody-here.localhost"))
    await expect(page.get_by_role("heading", name="No such workspace")).to_be_visible()


async def test_unknown_page_is_404(app_server, page: Page) -> None:
    await page.goto(app_server.url("/no/such/page"))
    await expect(page.get_by_role("heading", name="Page not found")).to_be_visible()


async def test_reset_link_sets_a_new_password(app_server, page: Page) -> None:
    from datetime import timedelta

    from services.auth.accounts import issue_token

    async with global_session() as session:
        default = await tenants.get_by_slug(session, "default")
    assert default is not None
    tctx = TenantCtx(tenant_id=default.id, ip="198.51.100.2")
    email = f"reset-{uuid.uuid4().hex[:8]}@example.com"
    user = await join(tctx, email=email, password=PASSWORD, name="Forgetful")
    token = await issue_token(tctx, user.id, "reset", timedelta(minutes=5))

    await page.goto(app_server.url(f"/reset/{token}"))
    await page.get_by_label("New password", exact=True).fill("a brand new passphrase")
    await page.get_by_label("Repeat new password").fill("a brand new passphrase")
    await page.get_by_role("button", name="Set password").click()
    await expect(page.get_by_role("status")).to_contain_text("Your password is changed")
    await _log_in(page, app_server.url("/login"), email, "a brand new passphrase")
    await expect(page).to_have_url(at(app_server, "/"))
