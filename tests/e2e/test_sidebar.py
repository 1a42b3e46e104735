"""The chat sidebar and the page frame in Chromium, on a desktop (1280x800) and a phone (390x844): only the list
scrolls, folder and tag chips filter, folders and tags are renamed and deleted, search runs as you type, and
the keyboard: skip link, one Tab stop per row, Shift+F10 opens a row's menu.

Conversations are seeded through the services (fast), as the signed-up user of the browser."""

from __future__ import annotations

import os
import re
import uuid
from pathlib import Path

import pytest
from playwright.async_api import Locator, Page, ViewportSize, expect

from services import chat, tenants
from services.auth.accounts import authenticate
from services.config import PROJECT_ROOT
from services.context import Ctx
from services.db import global_session
from tests.e2e.test_shell import _sign_up, at

pytestmark = pytest.mark.e2e
DESKTOP = ViewportSize(width=1280, height=800)
PHONE = ViewportSize(width=390, height=844)
# SOLO_SCREENSHOTS=1 saves what the tests see into .data/test/screens (to look at; nothing is compared).
SCREENS = PROJECT_ROOT / ".data" / "test" / "screens" if os.environ.get("SOLO_SCREENSHOTS") else None


async def shot(page: Page, name: str, *, full: bool = False) -> None:
    """Light and dark."""
    if SCREENS is None:
        return
    SCREENS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(Path(SCREENS) / f"{name}.png"), full_page=full)
    await page.emulate_media(color_scheme="dark")
    try:
        await page.wait_for_timeout(150)
        await page.screenshot(path=str(Path(SCREENS) / f"{name}-dark.png"), full_page=full)
    finally:
        await page.emulate_media(color_scheme="light")
        await page.wait_for_timeout(150)


@pytest.fixture
async def member(app_server, page: Page) -> Page:
    await page.set_viewport_size(DESKTOP)
    await _sign_up(page, app_server.url("/signup"), "Sidney", f"side-{uuid.uuid4().hex[:8]}@example.com")
    await expect(page).to_have_url(at(app_server, "/"))
    return page


async def ctx_of(page: Page) -> Ctx:
    """The signed-in user of the browser, for seeding through the services."""
    cookies = {c["name"]: c["value"] for c in await page.context.cookies()}
    async with global_session() as session:
        tenant = await tenants.get_by_slug(session, "default")
    assert tenant is not None
    ctx = await authenticate(tenant.id, cookies["solo_session"])
    assert ctx is not None
    return ctx


async def page_fits(page: Page) -> None:
    """The document is never taller (or wider) than the window."""
    size = await page.evaluate(
        "({h: document.documentElement.scrollHeight, ih: innerHeight,"
        " w: document.documentElement.scrollWidth, iw: innerWidth})"
    )
    assert size["h"] <= size["ih"] and size["w"] <= size["iw"], size


async def in_window(page: Page, locator: Locator) -> None:
    box = await locator.bounding_box()
    assert box is not None
    viewport = page.viewport_size
    assert viewport is not None
    assert 0 <= box["y"] and box["y"] + box["height"] <= viewport["height"], box


async def scroll_list_to_end(sidebar: Locator) -> dict[str, float]:
    """Scrolls the sidebar's list to its end; its scroll height, height and position."""
    return await sidebar.locator(".solo-sidebar-list").evaluate(
        "el => { el.scrollTop = el.scrollHeight;"
        " return {sh: el.scrollHeight, ch: el.clientHeight, top: el.scrollTop}; }"
    )


async def test_many_conversations_only_the_list_scrolls(member: Page) -> None:
    ctx = await ctx_of(member)
    work = await chat.create_folder(ctx, "Paperwork")
    urgent = await chat.create_tag(ctx, "urgent")
    for i in range(35):
        c = await chat.create_conversation(ctx, title=f"Shopping trip {i:02d} (yoga, jogging)")
        if i % 3 == 0:
            await chat.move_to_folder(ctx, c.id, work.id)
        if i % 4 == 0:
            await chat.tag_conversation(ctx, c.id, urgent.id)
    await member.reload()
    sidebar = member.locator(".solo-sidebar").first
    newest = sidebar.get_by_role("link", name="Shopping trip 34 (yoga, jogging)")
    await expect(newest).to_be_visible()
    await page_fits(member)
    await shot(member, "sidebar-desktop-35")

    # Titles keep their descenders (g, y, p): the title's box is as tall as the font's line.
    fits = await newest.locator(".solo-conv-title").evaluate(
        """el => { const s = getComputedStyle(el); const c = document.createElement('canvas').getContext('2d');
        c.font = s.fontSize + ' ' + s.fontFamily; const m = c.measureText('gjpqy');
        return {need: m.fontBoundingBoxAscent + m.fontBoundingBoxDescent, have: el.clientHeight}; }"""
    )
    assert fits["have"] >= fits["need"], fits
    await shot_zoomed(member)

    # Only the list scrolls: at its end, the head (New chat, search, view) and foot (Settings) stay.
    scrolled = await scroll_list_to_end(sidebar)
    assert scrolled["sh"] > scrolled["ch"] and scrolled["top"] > 0, scrolled
    await expect(sidebar.get_by_role("link", name="Shopping trip 00 (yoga, jogging)")).to_be_in_viewport()
    for part in (
        sidebar.get_by_role("link", name="New chat"),
        sidebar.get_by_label("Search conversations"),
        sidebar.get_by_label("Show"),
        sidebar.get_by_role("link", name="Settings"),
        sidebar.get_by_text("Import chats"),
    ):
        await in_window(member, part)
    await page_fits(member)
    await shot(member, "sidebar-desktop-35-end")

    # At any width the page fits the window (the sidebar hides below 768 px, the drawer has it).
    for width in (1024, 800, 767, 600):
        await member.set_viewport_size(ViewportSize(width=width, height=700))
        await page_fits(member)

    # The phone: the drawer, its list scrolls, its head and foot stay; the page still fits.
    await member.set_viewport_size(PHONE)
    await page_fits(member)
    await member.get_by_role("button", name="Menu").click()
    drawer = member.get_by_role("dialog").locator(".solo-sidebar")
    await expect(drawer.get_by_role("link", name="Shopping trip 34 (yoga, jogging)")).to_be_visible()
    await shot(member, "sidebar-phone-drawer")
    scrolled = await scroll_list_to_end(drawer)
    assert scrolled["sh"] > scrolled["ch"] and scrolled["top"] > 0, scrolled
    for part in (
        member.get_by_role("button", name="Close"),
        drawer.get_by_role("link", name="New chat"),
        drawer.get_by_role("link", name="Settings"),
    ):
        await in_window(member, part)
    await page_fits(member)
    await shot(member, "sidebar-phone-drawer-end")
    # Menus and dialogs opened in the drawer show above it (a covered button could not be clicked).
    await drawer.get_by_role("button", name="Actions for Shopping trip 01 (yoga, jogging)").click()
    await member.get_by_role("menuitem", name="Rename…").click()
    await member.get_by_role("textbox", name="Name").fill("Shopping trip 01 renamed")
    await member.get_by_role("button", name="Save").click()
    await expect(drawer.get_by_role("link", name="Shopping trip 01 renamed")).to_be_visible()
    await drawer.get_by_role("button", name="Folders and tags").click()
    await shot(member, "sidebar-phone-manage")
    await member.get_by_role("button", name="Done").click()
    # Opening a conversation from the drawer closes it.
    await drawer.get_by_role("link", name="Shopping trip 00 (yoga, jogging)").click()
    await expect(member).to_have_url(re.compile(r"/c/[0-9a-f-]{36}$"))
    await expect(member.get_by_role("dialog")).to_have_count(0)
    await page_fits(member)


async def shot_zoomed(page: Page) -> None:
    """The list at 2x (device_scale_factor=2), to look at the titles' descenders."""
    if SCREENS is None:
        return
    browser = page.context.browser
    assert browser is not None
    ctx = await browser.new_context(viewport=DESKTOP, device_scale_factor=2)
    try:
        cookies = await page.context.cookies()
        await ctx.add_cookies([{"name": c["name"], "value": c["value"], "url": page.url} for c in cookies])
        zoomed = await ctx.new_page()
        await zoomed.goto(page.url)
        rows = zoomed.locator(".solo-sidebar").first.locator(".solo-sidebar-list")
        await expect(rows.locator(".solo-conv-row").first).to_be_visible()
        await rows.screenshot(path=str(Path(SCREENS) / "sidebar-zoom-2x.png"))
    finally:
        await ctx.close()


async def test_chips_filter_and_folders_and_tags_are_renamed_and_deleted(member: Page) -> None:
    ctx = await ctx_of(member)
    work = await chat.create_folder(ctx, "Work")
    await chat.create_folder(ctx, "Home")
    urgent = await chat.create_tag(ctx, "urgent")
    taxes = await chat.create_conversation(ctx, title="Tax forms", folder_id=work.id)
    await chat.tag_conversation(ctx, taxes.id, urgent.id)
    await chat.create_conversation(ctx, title="Holiday plans")
    await member.reload()
    sidebar = member.locator(".solo-sidebar").first
    tax_row = sidebar.locator(".solo-conv-row").filter(has_text="Tax forms")
    holiday = sidebar.get_by_role("link", name="Holiday plans")
    await expect(tax_row.get_by_role("button", name="Folder Work")).to_be_visible()
    await expect(tax_row.get_by_role("button", name="Tag urgent")).to_be_visible()
    await shot(member, "sidebar-chips")

    # A chip filters the list to its folder or tag; the view picker says so.
    show = sidebar.get_by_label("Show")
    await tax_row.get_by_role("button", name="Folder Work").click()
    await expect(show).to_have_value(f"folder:{work.id}")
    await expect(holiday).to_have_count(0)
    await expect(sidebar.get_by_role("link", name="Tax forms")).to_be_visible()
    await show.select_option(label="All chats")
    await expect(holiday).to_be_visible()
    await tax_row.get_by_role("button", name="Tag urgent").click()
    await expect(show).to_have_value(f"tag:{urgent.id}")
    await expect(holiday).to_have_count(0)
    await show.select_option(label="All chats")
    await expect(holiday).to_be_visible()

    # Rename a folder; a name already taken is refused with the reason, and the typed name stays.
    await sidebar.get_by_role("button", name="Folders and tags").click()
    dialog = member.get_by_role("dialog", name="Folders and tags")
    await expect(dialog.get_by_text("1 chat", exact=True).first).to_be_visible()
    await dialog.get_by_role("button", name="Rename folder Work").click()
    box = dialog.get_by_label("New name for Work")
    await box.fill("Home")
    await box.press("Enter")
    await expect(dialog.get_by_role("alert")).to_contain_text("already have a folder named “Home”")
    await expect(box).to_have_value("Home")
    await box.fill("Day job")
    await dialog.get_by_role("button", name="Save").click()
    await expect(dialog.get_by_role("button", name="Rename folder Day job")).to_be_visible()
    await expect(dialog.get_by_role("alert")).to_have_count(0)
    await shot(member, "sidebar-manage-dialog")

    # Delete a tag: the confirmation says the chat stays; Cancel keeps it, Delete removes only the label.
    await dialog.get_by_role("button", name="Delete tag urgent").click()
    confirm = member.get_by_role("alertdialog")
    await expect(confirm).to_contain_text("The 1 chat tagged “urgent” stays; it just loses the tag.")
    await shot(member, "sidebar-delete-tag")
    await confirm.get_by_role("button", name="Cancel").click()
    await expect(dialog.get_by_role("button", name="Delete tag urgent")).to_be_visible()
    await dialog.get_by_role("button", name="Delete tag urgent").click()
    await member.get_by_role("alertdialog").get_by_role("button", name="Delete").click()
    await expect(dialog.get_by_role("button", name="Delete tag urgent")).to_have_count(0)
    await expect(dialog.get_by_text("No tags yet.")).to_be_visible()
    await dialog.get_by_role("button", name="Done").click()
    await expect(tax_row.get_by_role("button", name="Tag urgent")).to_have_count(0)
    await expect(tax_row.get_by_role("button", name="Folder Day job")).to_be_visible()  # renamed
    await expect(sidebar.get_by_role("link", name="Tax forms")).to_be_visible()

    # Delete the folder that is being shown: the chat stays, the list shows all chats again.
    await tax_row.get_by_role("button", name="Folder Day job").click()
    await expect(holiday).to_have_count(0)
    await sidebar.get_by_role("button", name="Folders and tags").click()
    await dialog.get_by_role("button", name="Delete folder Day job").click()
    confirm = member.get_by_role("alertdialog")
    await expect(confirm).to_contain_text("Its 1 chat stays in your list, just outside any folder.")
    await confirm.get_by_role("button", name="Delete").click()
    await dialog.get_by_role("button", name="Done").click()
    await expect(show).to_have_value("all")
    await expect(holiday).to_be_visible()
    await expect(sidebar.get_by_role("link", name="Tax forms")).to_be_visible()
    await expect(sidebar.locator(".solo-chip")).to_have_count(0)
    assert await chat.list_folders(ctx) != [] and {f.name for f in await chat.list_folders(ctx)} == {"Home"}
    assert (await chat.get_conversation(ctx, taxes.id)).folder_id is None


async def test_search_runs_as_you_type_and_clear_empties_it(member: Page, app_server) -> None:
    ctx = await ctx_of(member)
    word = f"quokka{uuid.uuid4().hex[:5]}"
    for title in (f"All about the {word}", "Unrelated chat"):
        c = await chat.create_conversation(ctx, title=title)
        await chat.add_user_message(ctx, c.id, None, f"message about {title}")
    # Count the search events the page sends while the user types (one, not one per key).
    sent: list[str] = []
    member.on("websocket", lambda ws: ws.on("framesent", lambda f: sent.append(str(f))))
    await member.reload()
    sidebar = member.locator(".solo-sidebar").first
    box = sidebar.get_by_label("Search conversations")
    await box.click()
    await box.press_sequentially(word, delay=40)
    hit = sidebar.get_by_role("link", name=re.compile(f"All about the {word}"))
    await expect(hit).to_be_visible()
    await expect(sidebar.get_by_role("link", name="Unrelated chat")).to_have_count(0)
    await expect(box).to_be_focused()  # the results did not take the focus away
    searches = [f for f in sent if "sidebar_state.search" in f]
    assert len(searches) == 1, searches
    await shot(member, "sidebar-search")

    # The results are reachable from the box with the keyboard.
    await box.press("ArrowDown")
    await expect(hit).to_be_focused()

    # Enter searches at once; nothing found says so.
    await box.fill("nothingmatchesthis")
    await box.press("Enter")
    await expect(sidebar.get_by_text("Nothing found.")).to_be_visible()

    # Clear empties the box and the results, and the list is back.
    await sidebar.get_by_role("button", name="Clear").click()
    await expect(box).to_have_value("")
    await expect(box).to_be_focused()
    await expect(sidebar.get_by_text("Results", exact=True)).to_have_count(0)
    await expect(sidebar.get_by_role("link", name="Unrelated chat")).to_be_visible()


async def test_keyboard_skip_link_one_stop_per_row_and_shift_f10(member: Page, app_server, browser) -> None:
    ctx = await ctx_of(member)
    for title in ("First topic", "Second topic", "Third topic"):
        await chat.create_conversation(ctx, title=title)
    await member.reload()
    sidebar = member.locator(".solo-sidebar").first
    await expect(sidebar.get_by_role("link", name="Third topic")).to_be_visible()

    # The skip link is the first Tab stop, hidden until focused; it goes to the message box.
    skip = member.get_by_role("link", name="Skip to message box")
    await expect(skip).not_to_be_in_viewport()
    await expect(member.locator("#message-input")).to_be_focused()  # where focus starts on arrival
    # From the top of the page (focus moved away from the box), the first Tab stop is the skip link.
    await member.locator("body").evaluate(
        "b => { b.tabIndex = -1; b.focus(); b.removeAttribute('tabindex'); }"
    )
    await member.keyboard.press("Tab")
    await expect(skip).to_be_focused()
    await expect(skip).to_be_in_viewport()
    await shot(member, "skip-link")
    await member.keyboard.press("Enter")
    await expect(member.locator("#message-input")).to_be_focused()
    await expect(member).to_have_url(at(app_server, "/"))

    # Each conversation row is one Tab stop.
    third = sidebar.get_by_role("link", name="Third topic")
    await third.focus()
    await member.keyboard.press("Tab")
    await expect(sidebar.get_by_role("link", name="Second topic")).to_be_focused()
    await member.keyboard.press("Tab")
    await expect(sidebar.get_by_role("link", name="First topic")).to_be_focused()

    # Shift+F10 on a row opens its actions; Escape closes them and the row keeps the focus.
    await member.keyboard.press("Shift+F10")
    menu = member.get_by_role("menu")
    await expect(menu.get_by_role("menuitem", name="Pin")).to_be_visible()
    await shot(member, "row-menu-keyboard")
    await member.keyboard.press("Escape")
    await expect(menu).to_have_count(0)
    await expect(sidebar.get_by_role("link", name="First topic")).to_be_focused()
    await member.keyboard.press("Shift+F10")
    await expect(menu.get_by_role("menuitem", name="Pin")).to_be_focused()
    await member.keyboard.press("Enter")  # Pin, from the keyboard
    await expect(sidebar.locator(".solo-sidebar-list").get_by_text("Pinned", exact=True)).to_be_visible()

    # A page without a message box: the skip link goes to its main content.
    await member.goto(app_server.url("/settings"))
    await expect(member.locator("#main-content")).to_be_visible()
    await member.keyboard.press("Tab")
    main_skip = member.get_by_role("link", name="Skip to main content")
    await expect(main_skip).to_be_focused()
    await member.keyboard.press("Enter")
    await expect(member.locator("#main-content")).to_be_focused()

    # The colour switch is named by its visible text, in the user menu and on the sign-in card.
    await member.get_by_role("button", name="Account", exact=True).click()
    await expect(member.get_by_role("menuitem", name="Dark mode", exact=True)).to_be_visible()
    await member.keyboard.press("Escape")
    visitor = await browser.new_context(viewport=PHONE)
    try:
        login = await visitor.new_page()
        await login.goto(app_server.url("/login"))
        await expect(login.get_by_role("button", name="Dark mode", exact=True)).to_be_visible()
        await shot(login, "login-phone")
    finally:
        await visitor.close()
