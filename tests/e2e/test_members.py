"""Admin pages in a real browser: a member is refused on the server; the owner changes a role, lowers one and
puts the member on a comped plan, suspends the member after confirming (whose session ends at once); searches members and pages through
them; adds a provider that cannot be reached, saves it anyway and removes it after confirming."""

from __future__ import annotations

import re
import uuid

from playwright.async_api import Page, expect

from services import tenants
from services.billing import plans
from services.context import Ctx
from services.db import global_session
from tests.conftest import make_user, unique_slug
from tests.e2e.test_markdown import SHOTS
from tests.e2e.test_shell import PASSWORD, _log_in, _sign_up, at
from tests.fakes.llm_server import FakeLLMServer
from tests.services.test_chat_support import sql

pytestmark = __import__("pytest").mark.e2e


async def _owner_signed_in(app_server, page: Page, prefix: str) -> tuple[str, str]:  # type: ignore[no-untyped-def]
    async with global_session() as session:
        t = await tenants.create_tenant(session, name="Team", slug=unique_slug(prefix), accent_color="green")
    host = f"{t.slug}.localhost"
    owner_email = f"owner-{uuid.uuid4().hex[:6]}@example.com"
    await make_user(t.id, owner_email, password=PASSWORD, name="Olivia Owner")  # as `solo user create`
    await _log_in(page, app_server.url("/login", host=host), owner_email)
    await expect(page).to_have_url(at(app_server, "/", host=host), timeout=20_000)  # argon2 under load
    return host, str(t.id)


async def test_owner_manages_members_and_suspension_ends_sessions(app_server, browser, page: Page) -> None:
    host, tenant = await _owner_signed_in(app_server, page, "team")
    member_email = f"member-{uuid.uuid4().hex[:6]}@example.com"

    member_ctx = await browser.new_context()
    member = await member_ctx.new_page()
    try:
        await _sign_up(member, app_server.url("/signup", host=host), "Max Member", member_email)
        await expect(member).to_have_url(at(app_server, "/", host=host))
        await expect(member.get_by_role("link", name="Members")).to_have_count(0)
        # Typing the address does not help: the server refuses.
        await member.goto(app_server.url("/members", host=host))
        await expect(member.get_by_role("alert")).to_contain_text("You do not have permission")
        await expect(member.get_by_text("Olivia Owner")).to_have_count(0)

        await page.get_by_role("link", name="Members").first.click()
        await expect(page.get_by_text(member_email)).to_be_visible()
        role = page.get_by_role("combobox", name=f"Role of {member_email}")
        await role.click()
        await page.get_by_role("option", name="admin").click()  # a higher role: at once
        await expect(page.get_by_role("status")).to_contain_text(f"{member_email} is now admin.")

        # A lower role takes something away: asked first, and Cancel changes nothing.
        await role.click()
        await page.get_by_role("option", name="instructor").click()
        dialog = page.get_by_role("alertdialog")
        await expect(dialog).to_contain_text("Make Max Member an instructor?")
        await expect(dialog).to_contain_text("will no longer be able to manage members")
        await dialog.get_by_role("button", name="Cancel").click()
        await expect(dialog).to_have_count(0)
        await expect(role).to_contain_text("admin")
        await role.click()
        await page.get_by_role("option", name="instructor").click()
        await page.get_by_role("alertdialog").get_by_role("button", name="Make instructor").click()
        await expect(page.get_by_role("status")).to_contain_text(f"{member_email} is now instructor.")

        # A comped plan: admins put a member on any of the workspace's plans (no payment).
        tenant_id = uuid.UUID(tenant)
        (owner_id,) = (await sql(tenant_id, "SELECT id FROM users WHERE role = 'owner'"))[0]
        owner_ctx = Ctx(tenant_id=tenant_id, user_id=owner_id, role="owner")
        await plans.save_plan(owner_ctx, plans.PlanDraft("circle", "Coaching Circle", tier="pro"))
        await page.reload()
        plan = page.get_by_role("combobox", name=f"Plan of {member_email}")
        await expect(plan).to_contain_text("Default (Free)")
        await plan.click()
        await page.get_by_role("option", name="Coaching Circle").click()
        await expect(page.get_by_role("status")).to_contain_text(
            f"{member_email} is now on the Coaching Circle plan."
        )
        await expect(plan).to_contain_text("Coaching Circle")
        assert await sql(tenant_id, "SELECT plan FROM users WHERE email = :e", e=member_email) == [("pro",)]
        # The member's Plans page shows it as theirs, beside the workspace's other plans, and their usage.
        await member.get_by_role("link", name="Plans").first.click()
        await expect(member).to_have_url(at(app_server, "/plans", host=host))
        listed = member.get_by_role("list", name="Plans")
        await expect(listed.get_by_role("article", name="Coaching Circle")).to_contain_text("Your plan")
        await expect(listed.get_by_role("article", name="Free")).not_to_contain_text("Your plan")
        await expect(member.get_by_role("region", name="Your usage")).to_contain_text("0 used (no limit)")
        SHOTS.mkdir(parents=True, exist_ok=True)
        await member.screenshot(path=str(SHOTS / "plans-member.png"))

        await page.get_by_role("button", name=f"Suspend {member_email}").click()
        dialog = page.get_by_role("alertdialog")
        await expect(dialog).to_contain_text("Suspend Max Member?")
        await expect(dialog).to_contain_text(
            "signed out everywhere at once and cannot sign in until restored"
        )
        await dialog.get_by_role("button", name="Suspend").click()
        await expect(page.get_by_role("status")).to_contain_text(f"{member_email} is suspended")
        row = page.get_by_role("row").filter(has_text=member_email)
        await expect(row.get_by_text("suspended")).to_be_visible()

        await member.goto(app_server.url("/settings", host=host))
        await expect(member).to_have_url(at(app_server, "/login", host=host))
        await member.get_by_label("Email").fill(member_email)
        await member.get_by_label("Password").fill(PASSWORD)
        await member.get_by_role("button", name="Log in").click()
        await expect(member.get_by_role("alert")).to_contain_text(re.compile("suspended"))
    finally:
        await member_ctx.close()


async def test_owner_searches_members_and_loads_more(app_server, page: Page) -> None:
    host, tenant_id = await _owner_signed_in(app_server, page, "many")
    for i in range(55):  # more than one page (50)
        await make_user(
            uuid.UUID(tenant_id), f"user{i:02d}@example.com", role="member", name=f"Person {i:02d}"
        )
    await make_user(uuid.UUID(tenant_id), "ana@lima.org", role="member", name="Ana 100%")
    await page.goto(app_server.url("/members", host=host))
    rows = page.get_by_role("row").filter(has_text="@")
    await expect(rows).to_have_count(50)
    await page.get_by_role("button", name="Load more").click()
    await expect(rows).to_have_count(57)  # owner + 56
    await expect(page.get_by_role("button", name="Load more")).to_have_count(0)

    search = page.get_by_label("Search members")
    await search.press_sequentially("LIMA", delay=30)  # debounced: one search after typing stops
    await expect(rows).to_have_count(1)
    await expect(rows.first).to_contain_text("ana@lima.org")
    await search.fill("100%")  # the percent sign is not a wildcard
    await expect(rows).to_have_count(1)
    await search.fill("person 0")
    await expect(rows).to_have_count(10)
    await search.fill("nobody here")
    await expect(page.get_by_text("No members match “nobody here”.")).to_be_visible()
    await expect(rows).to_have_count(0)
    await search.fill("")
    await expect(rows).to_have_count(50)


async def test_admin_adds_an_unreachable_provider_then_removes_it(
    app_server, page: Page, llm: FakeLLMServer
) -> None:
    host, _ = await _owner_signed_in(app_server, page, "prov")
    await page.goto(app_server.url("/admin/models", host=host))
    dead = "http://127.0.0.1:9/v1"  # nothing listens on the discard port
    await page.get_by_label("Id", exact=True).fill("deadllama")
    await page.get_by_label("Label").fill("Dead Llama")
    await page.get_by_label("Base URL").fill(dead)
    await page.get_by_label("API key").fill("sk-typed-key-1234")
    await page.get_by_role("button", name="Save provider").click()
    form = page.locator("#provider-form")
    await expect(form.get_by_role("alert")).to_have_text(
        f"Couldn't reach {dead}: no answer (the connection was refused or broke). Check the address and key.",
        timeout=20_000,  # the first check in a fresh app loads the provider SDK
    )
    await expect(page.get_by_text(re.compile("saved", re.IGNORECASE))).to_have_count(0)  # one message
    await expect(page.get_by_role("row").filter(has_text="Dead Llama")).to_have_count(0)
    # Everything typed is still there, the key included.
    await expect(page.get_by_label("Id", exact=True)).to_have_value("deadllama")
    await expect(page.get_by_label("Base URL")).to_have_value(dead)
    await expect(page.get_by_label("API key")).to_have_value("sk-typed-key-1234")

    await form.get_by_role("button", name="Save anyway").click()
    await expect(form.get_by_role("status")).to_contain_text("Saved Dead Llama without reaching it")
    await expect(form.get_by_role("alert")).to_have_count(0)
    await expect(page.get_by_label("Id", exact=True)).to_have_value("")  # the form is empty for the next one
    provider_row = page.get_by_role("row").filter(has_text="Dead Llama")
    await expect(provider_row).to_be_visible()

    # A provider that answers is saved at once.
    await page.get_by_label("Id", exact=True).fill("live")
    await page.get_by_label("Base URL").fill(llm.openai_base_url)
    await page.get_by_role("button", name="Save provider").click()
    await expect(form.get_by_role("status")).to_have_text("Saved live: it answered.")
    await expect(page.get_by_role("row").filter(has_text="live")).to_be_visible()

    await page.get_by_role("button", name="Remove Dead Llama").click()
    dialog = page.get_by_role("alertdialog")
    await expect(dialog).to_contain_text("Remove Dead Llama?")
    await expect(dialog).to_contain_text("its stored API key is deleted")
    await dialog.get_by_role("button", name="Cancel").click()
    await expect(provider_row).to_be_visible()
    await page.get_by_role("button", name="Remove Dead Llama").click()
    await page.get_by_role("alertdialog").get_by_role("button", name="Remove provider").click()
    await expect(page.get_by_role("status").filter(has_text="Removed Dead Llama.")).to_be_visible()
    await expect(provider_row).to_have_count(0)
