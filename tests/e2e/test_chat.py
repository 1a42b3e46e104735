"""Chat in a real browser against the fake OpenAI-compatible provider (real SSE over loopback)."""

from __future__ import annotations

import asyncio
import re
import uuid
from typing import Any

import pytest
from playwright.async_api import Page, expect

from tests.e2e.test_shell import _sign_up, at
from tests.fakes.llm_server import FakeLLMServer

pytestmark = pytest.mark.e2e


def replies(*texts: str):  # type: ignore[no-untyped-def]
    """A reply function: title requests get a title, chat requests the given texts in turn (last repeats)."""
    queue = list(texts)

    def reply(body: dict[str, Any]) -> str:
        if any("short title" in str(m.get("content", "")) for m in body.get("messages", [])):
            return "Fake Title"
        return queue.pop(0) if len(queue) > 1 else queue[0]

    return reply


@pytest.fixture
async def member(app_server, page: Page) -> Page:
    await _sign_up(page, app_server.url("/signup"), "Chatty", f"chat-{uuid.uuid4().hex[:8]}@example.com")
    await expect(page).to_have_url(at(app_server, "/"))
    return page


async def _send(page: Page, text: str) -> None:
    await page.get_by_label("Message").fill(text)
    await page.get_by_role("button", name="Send").click()


def assistant(page: Page):  # type: ignore[no-untyped-def]
    return page.locator(".solo-message[data-role='assistant']")


async def test_reply_streams_then_stays_after_reload(member: Page, llm: FakeLLMServer) -> None:
    words = " ".join(f"word{i}" for i in range(40))
    llm.configure(reply=replies(f"Streaming {words} done."), tokens_per_second=20, first_token_delay=0.2)
    await _send(member, "Tell me something long")
    live = member.locator("#streaming-reply")
    await expect(live).to_contain_text("Streaming word0")
    first = await live.inner_text()
    # The text grows while streaming: a word beyond the ones first seen appears in the same bubble.
    later = min(len(first.split()) + 3, 39)
    assert later < 39, f"the reply was already complete when first seen: {first!r}"
    await expect(live).to_contain_text(f"word{later}")
    assert len(await live.inner_text()) > len(first)
    await expect(assistant(member).last).to_contain_text("done.", timeout=20_000)
    await expect(member.get_by_role("button", name="Send")).to_be_visible()
    await expect(member).to_have_url(re.compile(r"/c/[0-9a-f-]{36}$"))
    await member.reload()
    await expect(assistant(member).last).to_contain_text(f"Streaming {words} done.")
    await expect(member.get_by_role("link", name="Fake Title")).to_be_visible()


async def test_stop_keeps_partial_text_after_reload(member: Page, llm: FakeLLMServer) -> None:
    llm.configure(reply=replies(" ".join(f"tok{i}" for i in range(400))), tokens_per_second=30)
    await _send(member, "Count slowly")
    await expect(member.locator("#streaming-reply")).to_contain_text("tok5")
    await member.get_by_role("button", name="Stop").click()
    await expect(member.get_by_role("button", name="Send")).to_be_visible()
    await expect(assistant(member).last).to_contain_text("Unfinished")
    kept = await assistant(member).last.inner_text()
    await member.reload()
    await expect(assistant(member).last).to_contain_text("Unfinished")
    assert "tok399" not in await assistant(member).last.inner_text()
    assert "tok5" in kept


async def test_regenerate_and_edit_make_branches(member: Page, llm: FakeLLMServer) -> None:
    llm.configure(reply=replies("First answer.", "Second answer.", "Answer to the edit."))
    await _send(member, "Original question")
    await expect(assistant(member).last).to_contain_text("First answer.")
    await assistant(member).last.get_by_role("button", name="Regenerate").click()
    await expect(assistant(member).last).to_contain_text("Second answer.")
    await expect(assistant(member).last).to_contain_text("2/2")
    await assistant(member).last.get_by_role("button", name="Previous version").click()
    await expect(assistant(member).last).to_contain_text("First answer.")
    await expect(assistant(member).last).to_contain_text("1/2")

    user = member.locator(".solo-message[data-role='user']").last
    await user.get_by_role("button", name="Edit").click()
    await member.get_by_label("Edit message").fill("Edited question")
    await member.get_by_role("button", name="Save and submit").click()
    await expect(assistant(member).last).to_contain_text("Answer to the edit.")
    user = member.locator(".solo-message[data-role='user']").last
    await expect(user).to_contain_text("Edited question")
    await expect(user).to_contain_text("2/2")
    await user.get_by_role("button", name="Previous version").click()
    await expect(member.locator(".solo-message[data-role='user']").last).to_contain_text("Original question")


async def test_provider_error_shows_retry_and_retry_works(member: Page, llm: FakeLLMServer) -> None:
    llm.configure(
        reply=replies("Recovered answer."),
        error_status=500,
        error_count=3,
        error_message="the fake provider is down",
    )
    await _send(member, "Will this fail?")
    alert = member.get_by_role("alert").filter(has_text="the fake provider is down")
    await expect(alert.first).to_be_visible(timeout=20_000)
    await expect(member.locator(".solo-message[data-role='user']").last).to_contain_text("Will this fail?")
    llm.configure(error_status=None, error_count=None)  # the provider is back
    await member.get_by_role("button", name="Retry").click()
    await expect(assistant(member).last).to_contain_text("Recovered answer.")


async def test_search_finds_an_old_conversation(member: Page, llm: FakeLLMServer, app_server) -> None:
    word = f"zanzibar{uuid.uuid4().hex[:6]}"
    llm.configure(reply=replies(f"Facts about {word} follow."))
    await _send(member, "Tell me about the island")
    await expect(assistant(member).last).to_contain_text(word)
    await member.goto(app_server.url("/"))
    llm.configure(reply=replies("Something else entirely."))
    await _send(member, "Another topic")
    await expect(assistant(member).last).to_contain_text("Something else")
    await member.get_by_label("Search conversations").fill(word)
    await member.get_by_label("Search conversations").press("Enter")
    hit = member.locator(".solo-sidebar a").filter(has_text=word).first
    await expect(hit).to_be_visible()
    await hit.click()
    await expect(member).to_have_url(re.compile(r"/c/[0-9a-f-]{36}\?m="))
    await expect(assistant(member).last).to_contain_text(f"Facts about {word} follow.")


async def test_markdown_renders_but_html_from_the_model_does_not(member: Page, llm: FakeLLMServer) -> None:
    reply = (
        "| a | b |\n|---|---|\n| 1 | 2 |\n\n```python\nprint('hi')\n```\n\n"
        '<img src="x" onerror="window.__pwned = 1"> <b>not bold</b>'
    )
    llm.configure(reply=replies(reply))
    await _send(member, "Show me markdown")
    last = assistant(member).last
    await expect(last.locator("table")).to_be_visible()
    await expect(last.get_by_text("print('hi')")).to_be_visible()
    await expect(last.locator("img")).to_have_count(0)
    await expect(last.locator("b")).to_have_count(0)
    assert await member.evaluate("window.__pwned") is None


async def test_rename_folder_tag_filter_and_delete_with_confirmation(
    member: Page, llm: FakeLLMServer
) -> None:
    llm.configure(reply=replies("An answer."))
    await _send(member, "Organise me")
    await expect(assistant(member).last).to_contain_text("An answer.")
    sidebar = member.locator(".solo-sidebar")
    item = sidebar.locator("a").filter(has_text=re.compile("An answer|Organise|Fake Title")).first
    await expect(item).to_be_visible()
    title = (await item.inner_text()).strip()

    await sidebar.get_by_role("button", name=f"Actions for {title}").click()
    await member.get_by_role("menuitem", name="Rename…").click()
    await member.get_by_role("textbox", name="Name").fill("Project Apollo")
    await member.get_by_role("button", name="Save").click()
    await expect(sidebar.get_by_role("link", name="Project Apollo")).to_be_visible()

    await sidebar.get_by_role("button", name="Actions for Project Apollo").click()
    await member.get_by_role("menuitem", name="Move to folder").click()
    await member.get_by_role("menuitem", name="New folder…").click()
    await member.get_by_role("textbox", name="Name").fill("Space")
    await member.get_by_role("button", name="Save").click()
    await member.get_by_label("Show").select_option(label="Folder: Space")
    await expect(sidebar.get_by_role("link", name="Project Apollo")).to_be_visible()
    await member.get_by_label("Show").select_option(label="Pinned")
    await expect(sidebar.get_by_role("link", name="Project Apollo")).to_have_count(0)
    await member.get_by_label("Show").select_option(label="All chats")

    await sidebar.get_by_role("button", name="Actions for Project Apollo").click()
    await member.get_by_role("menuitem", name="Delete…").click()
    await member.get_by_role("alertdialog").get_by_role("button", name="Cancel").click()
    await expect(sidebar.get_by_role("link", name="Project Apollo")).to_be_visible()
    await sidebar.get_by_role("button", name="Actions for Project Apollo").click()
    await member.get_by_role("menuitem", name="Delete…").click()
    await member.get_by_role("alertdialog").get_by_role("button", name="Delete").click()
    await expect(sidebar.get_by_role("link", name="Project Apollo")).to_have_count(0)


async def test_another_user_cannot_open_my_conversation(
    member: Page, llm: FakeLLMServer, app_server, browser
) -> None:
    llm.configure(reply=replies("Private answer."))
    await _send(member, "My secret question")
    await expect(assistant(member).last).to_contain_text("Private answer.")
    url = member.url
    other_ctx = await browser.new_context()
    other = await other_ctx.new_page()
    try:
        await _sign_up(other, app_server.url("/signup"), "Eve", f"eve-{uuid.uuid4().hex[:8]}@example.com")
        await expect(other).to_have_url(at(app_server, "/"))
        await other.goto(url)
        await expect(other.get_by_role("alert")).to_contain_text("does not exist or is not yours")
        await expect(other.get_by_text("My secret question")).to_have_count(0)
        await other.get_by_label("Search conversations").fill("secret")
        await other.get_by_label("Search conversations").press("Enter")
        await expect(other.locator(".solo-sidebar").get_by_text("Nothing found.")).to_be_visible()
    finally:
        await other_ctx.close()


async def test_sidebar_loads_more_conversations_as_you_scroll(member: Page, app_server) -> None:
    """45 conversations (more than one page of 40): scrolling the sidebar down brings in the rest."""
    from services import chat, tenants
    from services.auth.accounts import authenticate
    from services.db import global_session

    cookies = {c["name"]: c["value"] for c in await member.context.cookies()}
    async with global_session() as session:
        tenant = await tenants.get_by_slug(session, "default")
    assert tenant is not None
    ctx = await authenticate(tenant.id, cookies["solo_session"])
    assert ctx is not None
    for i in range(45):
        conv = await chat.create_conversation(
            ctx, title=f"Old chat {i:02d}", provider="fake", model="fake-model"
        )
        await chat.add_user_message(ctx, conv.id, None, f"message {i}")
    await member.reload()
    sidebar = member.locator(".solo-sidebar")
    await expect(sidebar.get_by_role("link", name="Old chat 44")).to_be_visible()
    oldest = sidebar.get_by_role("link", name="Old chat 00")
    await expect(oldest).to_have_count(0)
    await sidebar.get_by_role("button", name="Load more").scroll_into_view_if_needed()
    await expect(oldest).to_have_count(1)


async def test_an_unexpected_error_leaves_the_composer_working(
    member: Page, llm: FakeLLMServer, loopback_allowed
) -> None:
    """The workspace's provider key stops decrypting while the page is open (a ValueError, not a service
    error): the reply ends with the error and Retry, the composer is back, and Retry works once the key
    is entered again."""
    from services import ai_catalog, tenants
    from services.context import Ctx
    from services.db import global_session
    from tests.services.test_chat_support import sql

    async with global_session() as session:
        tenant = await tenants.get_by_slug(session, "default")
    assert tenant is not None
    admin = Ctx(tenant_id=tenant.id, user_id=uuid.uuid4(), role="owner")

    async def save(key: str) -> None:
        await ai_catalog.save_workspace_provider(
            admin, provider_id="vault", kind="openai_compatible", label="Vault",
            base_url=llm.openai_base_url, api_key=key, models=["m1"],
        )  # fmt: skip

    llm.configure(reply=replies("Answer after the key was fixed."))
    await save("sk-first-key")
    try:
        await member.reload()
        await member.get_by_label("Model").click()
        await member.get_by_role("option", name="Vault · m1").click()
        await expect(member.get_by_label("Model")).to_contain_text("Vault")
        await sql(
            tenant.id, "UPDATE tenant_providers SET api_key_encrypted = 'broken' WHERE provider_id = 'vault'"
        )
        await asyncio.sleep(ai_catalog.RESOLVE_TTL + 0.5)  # the app's checked-provider cache expires
        await _send(member, "Does the key still work?")
        alert = member.get_by_role("alert").filter(has_text="cannot be used right now").first
        await expect(alert).to_be_visible(timeout=20_000)
        await expect(member.get_by_role("button", name="Send")).to_be_enabled()
        await expect(member.locator(".solo-message[data-role='user']").last).to_contain_text("Does the key")
        await save("sk-second-key")
        await member.get_by_role("button", name="Retry").click()
        await expect(assistant(member).last).to_contain_text("Answer after the key was fixed.")
        await expect(member.get_by_role("button", name="Send")).to_be_enabled()
    finally:
        await ai_catalog.delete_workspace_provider(admin, "vault")
