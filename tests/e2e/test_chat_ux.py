"""The chat as people use it (issue 7): nothing typed is lost, each reply stays in its conversation, the page follows
the conversation, long conversations load in pages, one clear message per failure, keyboard first."""

# ruff: noqa: F811  (the `member` fixture is imported)
from __future__ import annotations

import re
import uuid
from typing import Any

import pytest
from playwright.async_api import Page, expect

from services.context import Ctx
from tests.e2e.test_chat import _send, assistant, member  # noqa: F401  (fixture)
from tests.e2e.test_shell import PASSWORD, _log_in, _sign_up, at
from tests.e2e.test_sidebar import ctx_of as page_ctx
from tests.fakes.llm_server import FakeLLMServer

pytestmark = pytest.mark.e2e


def titled_replies(*texts: str):  # type: ignore[no-untyped-def]
    """Chat requests get `texts` in turn (the last repeats); a title request gets "<first word> chat"."""
    queue = list(texts)

    def reply(body: dict[str, Any]) -> str:
        content = " ".join(str(m.get("content", "")) for m in body.get("messages", []))
        if "short title" in content:
            for word in ("Alpha", "Beta", "Gamma"):
                if word in content:
                    return f"**{word} chat**"
            return "Some chat"
        return queue.pop(0) if len(queue) > 1 else queue[0]

    return reply


async def seed_conversation(ctx: Ctx, title: str, pairs: int, *, long: bool = False) -> uuid.UUID:
    from services import chat

    conv = await chat.create_conversation(ctx, title=title, provider="fake", model="fake-model")
    parent: uuid.UUID | None = None
    filler = " ".join(["lorem ipsum dolor sit amet"] * (12 if long else 1))
    for i in range(pairs):
        q = await chat.add_user_message(ctx, conv.id, parent, f"question {i:04d} {filler}")
        a = await chat.save_assistant_message(ctx, conv.id, q.id, f"answer {i:04d} {filler}")
        parent = a.id
    return conv.id


def slow(words: int = 300) -> str:
    return " ".join(f"w{i}" for i in range(words)) + " END"


@pytest.mark.parametrize("width", [1100, 390])
async def test_a_message_sent_while_a_reply_streams_stays_in_the_box(
    member: Page, llm: FakeLLMServer, width: int
) -> None:
    await member.set_viewport_size({"width": width, "height": 800})
    llm.configure(reply=titled_replies(slow(80), "Second reply."), tokens_per_second=40)
    box = member.get_by_label("Message")
    await _send(member, "Alpha first question")
    await expect(member.locator("#streaming-reply")).to_contain_text("w3")
    if width > 800:  # the new chat is in the sidebar as soon as it exists, before its reply ends
        row = member.locator(".solo-sidebar .solo-conv-row").filter(has_text="New chat")
        await expect(row).to_have_count(1)
        await expect(row.get_by_label("Answering")).to_have_count(1)
    await box.fill("my follow-up")
    await box.press("Enter")
    await expect(member.locator("#composer-hint")).to_contain_text("Your message is kept")
    await expect(box).to_have_value("my follow-up")
    await expect(assistant(member).last).to_contain_text("END", timeout=20_000)
    await expect(box).to_have_value("my follow-up")  # still there after the reply ended
    await member.get_by_role("button", name="Send").click()
    await expect(box).to_have_value("")
    await expect(member.locator(".solo-message[data-role='user']").last).to_contain_text("my follow-up")
    await expect(assistant(member).last).to_contain_text("Second reply.")
    await expect(box).to_be_focused()


async def test_each_reply_stays_in_its_conversation(member: Page, llm: FakeLLMServer, app_server) -> None:
    """Switching away mid-reply: the reply goes on in its own chat only, the sidebar says it is answering, the
    new chat works, both are titled; a second tab streams at the same time."""
    llm.configure(reply=titled_replies(slow(120), "Beta answer."), tokens_per_second=30)
    await _send(member, "Alpha question")
    await expect(member.locator("#streaming-reply")).to_contain_text("w2")
    await expect(member).to_have_url(re.compile(r"/c/[0-9a-f-]{36}$"))
    alpha_url = member.url
    await member.get_by_role("link", name="New chat").first.click()
    await expect(member).to_have_url(at(app_server, "/"))
    await expect(member.get_by_text("How can I help?")).to_be_visible()
    await expect(member.locator("#streaming-reply")).to_have_count(0)
    await expect(member.get_by_role("button", name="Send")).to_be_visible()
    await expect(member.locator(".solo-sidebar [aria-label='Answering']")).to_have_count(1)

    llm.configure(reply=titled_replies("Beta answer."), tokens_per_second=None)
    await _send(member, "Beta question")
    await expect(assistant(member).last).to_contain_text("Beta answer.")
    await expect(member.locator(".solo-message")).to_have_count(2)  # nothing of Alpha here
    sidebar = member.locator(".solo-sidebar")
    await expect(sidebar.get_by_role("link", name="Beta chat")).to_be_visible()

    await member.goto(alpha_url)  # back to Alpha: its reply finished (or finishes) there
    await expect(assistant(member).last).to_contain_text("END", timeout=20_000)
    await expect(sidebar.get_by_role("link", name="Alpha chat")).to_be_visible(timeout=10_000)
    await expect(member).to_have_title(re.compile(r"^Alpha chat · "))

    # Two tabs, two conversations streaming at once.
    other = await member.context.new_page()
    try:
        llm.configure(reply=titled_replies(slow(60)), tokens_per_second=40)
        await other.goto(app_server.url("/"))
        await _send(member, "Alpha again")
        await _send(other, "Gamma in another tab")
        await expect(member.locator("#streaming-reply")).to_contain_text("w2")
        await expect(other.locator("#streaming-reply")).to_contain_text("w2")
        await expect(assistant(member).last).to_contain_text("END", timeout=20_000)
        await expect(assistant(other).last).to_contain_text("END", timeout=20_000)
        await expect(other.locator(".solo-message[data-role='user']")).to_have_count(1)
    finally:
        await other.close()


async def test_an_ended_session_goes_to_sign_in_and_keeps_the_draft(app_server, page: Page) -> None:
    from services.auth import accounts

    email = f"gone-{uuid.uuid4().hex[:8]}@example.com"
    await _sign_up(page, app_server.url("/signup"), "Gone", email)
    ctx = await page_ctx(page)
    cid = await seed_conversation(ctx, "Kept draft", 1)
    await page.goto(app_server.url(f"/c/{cid}"))
    box = page.get_by_label("Message")
    await box.fill("words I do not want to lose")
    await accounts.log_out_everywhere(ctx)  # "Log out everywhere" from another device

    await page.get_by_role("button", name="Send").click()
    await expect(page).to_have_url(re.compile(r"/login/?\?next=%2Fc%2F"), timeout=10_000)
    await _log_in(page, page.url, email, PASSWORD)
    await expect(page).to_have_url(at(app_server, f"/c/{cid}"), timeout=20_000)
    await expect(page.get_by_label("Message")).to_have_value("words I do not want to lose")


async def _bottom_gap(page: Page) -> float:
    return float(await page.evaluate("(() => { const s = document.getElementById('messages'); "
                                     "return s.scrollHeight - s.scrollTop - s.clientHeight; })()"))  # fmt: skip


async def test_the_page_follows_the_conversation(member: Page, llm: FakeLLMServer, app_server) -> None:
    ctx = await page_ctx(member)
    cid = await seed_conversation(ctx, "Long one", 12, long=True)
    await member.goto(app_server.url(f"/c/{cid}"))
    await expect(assistant(member).last).to_contain_text("answer 0011")
    await expect(assistant(member).last).to_be_in_viewport()  # opening shows the latest message
    llm.configure(reply=titled_replies(slow(400)), tokens_per_second=60)
    await _send(member, "Stream a lot")
    live = member.locator("#streaming-reply")
    await expect(live).to_contain_text("w60")
    assert await _bottom_gap(member) < 80  # followed while it streams
    await member.mouse.move(600, 300)
    await member.mouse.wheel(0, -1500)  # the user scrolls up to read: the page stops following
    jump = member.get_by_role("button", name="Jump to latest")
    await expect(jump).to_be_visible()
    await expect(live).to_contain_text("w120")
    assert await _bottom_gap(member) > 200
    await jump.click()
    await expect(jump).to_be_hidden()
    assert await _bottom_gap(member) < 80
    await expect(assistant(member).last).to_contain_text("END", timeout=20_000)


async def test_regenerate_streams_in_place(member: Page, llm: FakeLLMServer) -> None:
    llm.configure(reply=titled_replies("First answer.", slow(80)), tokens_per_second=None)
    await _send(member, "A question")
    await expect(assistant(member).last).to_contain_text("First answer.")
    llm.configure(reply=titled_replies(slow(80)), tokens_per_second=40)
    await assistant(member).last.get_by_role("button", name="Regenerate").click()
    live = member.locator("#streaming-reply")
    await expect(live).to_contain_text("w3")
    await expect(live).to_contain_text("2/2")
    await expect(assistant(member)).to_have_count(0)  # the old version is not left above it
    await expect(assistant(member).last).to_contain_text("END", timeout=20_000)
    await expect(assistant(member)).to_have_count(1)
    await expect(assistant(member).last).to_contain_text("2/2")


async def test_a_long_conversation_opens_in_pages(member: Page, llm: FakeLLMServer, app_server) -> None:
    ctx = await page_ctx(member)
    cid = await seed_conversation(ctx, "Very long", 60)  # 120 messages
    frames: list[str] = []
    member.on("websocket", lambda ws: ws.on("framereceived", lambda data: frames.append(str(data))))
    await member.goto(app_server.url(f"/c/{cid}"))
    messages = member.locator("#messages .solo-message")
    await expect(assistant(member).last).to_contain_text("answer 0059")
    await expect(messages).to_have_count(50)  # the newest page only
    assert not any("question 0000" in f for f in frames)

    llm.configure(reply=titled_replies("A short reply."), tokens_per_second=None)
    frames.clear()
    await _send(member, "One more")
    await expect(assistant(member).last).to_contain_text("A short reply.")
    sent = "".join(frames)
    assert "answer 0059" not in sent, "sending re-sent the messages already shown"
    await expect(messages).to_have_count(52)

    box = await member.locator("#messages").bounding_box()
    assert box is not None
    await member.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    await member.mouse.wheel(0, -100_000)  # the user scrolls to the top: the older page loads
    await expect(member.get_by_text("question 0010", exact=False)).to_have_count(1)
    await member.mouse.wheel(0, -100_000)
    await expect(member.get_by_text("question 0000", exact=False)).to_have_count(1)
    await expect(messages).to_have_count(122)
    await expect(member.get_by_role("button", name="Load earlier messages")).to_have_count(0)


async def test_one_clear_error_and_retry_replaces_it(member: Page, llm: FakeLLMServer) -> None:
    llm.configure(
        reply=titled_replies("Recovered answer."), error_status=500, error_count=3,
        error_message="the fake provider is down",
    )  # fmt: skip
    await _send(member, "Will this fail?")
    alerts = member.get_by_role("alert")
    await expect(alerts.first).to_contain_text("had a problem answering", timeout=20_000)
    await expect(alerts).to_have_count(1)
    details = alerts.first.locator("details")
    await expect(details.get_by_text("the fake provider is down")).to_be_hidden()
    await details.locator("summary").click()
    await expect(details.get_by_text("the fake provider is down")).to_be_visible()
    llm.configure(error_status=None, error_count=None)
    await member.get_by_role("button", name="Retry").click()
    await expect(assistant(member).last).to_contain_text("Recovered answer.")
    await expect(assistant(member)).to_have_count(1)
    await expect(alerts).to_have_count(0)
    await expect(assistant(member).last).not_to_contain_text("/2")
    await member.reload()
    await expect(assistant(member).last).to_contain_text("Recovered answer.")
    await expect(assistant(member).last).not_to_contain_text("/2")


async def test_keyboard_focus_edit_escape_and_copy(member: Page, llm: FakeLLMServer) -> None:
    await member.context.grant_permissions(["clipboard-read", "clipboard-write"])
    box = member.get_by_label("Message")
    await expect(box).to_be_focused()  # on arrival
    llm.configure(reply=titled_replies("Plain answer."), tokens_per_second=None)
    await box.press_sequentially("Alpha keyboard")
    await box.press("Enter")
    await expect(assistant(member).last).to_contain_text("Plain answer.")
    await expect(box).to_be_focused()  # after sending

    user = member.locator(".solo-message[data-role='user']").last
    edit = user.get_by_role("button", name="Edit")
    size = await edit.bounding_box()
    assert size is not None and size["width"] >= 32 and size["height"] >= 32
    assert await edit.get_attribute("title") == "Edit"
    await edit.click()
    editor = member.get_by_label("Edit message")
    await expect(editor).to_be_focused()
    no_sideways = (
        "(() => { const s = document.getElementById('messages'); return s.scrollWidth <= s.clientWidth; })()"
    )
    assert await member.evaluate(no_sideways)
    await editor.press("Escape")
    await expect(editor).to_have_count(0)

    copy = assistant(member).last.get_by_role("button", name="Copy")
    await copy.click()
    await expect(assistant(member).last.get_by_role("button", name="Copied")).to_be_visible()
    assert await member.evaluate("navigator.clipboard.readText()") == "Plain answer."
    await expect(member).to_have_title(re.compile(r"^Alpha chat · Solo OS AI$"))


async def test_phone_header_keeps_the_title_readable(member: Page, llm: FakeLLMServer) -> None:
    llm.configure(reply=titled_replies("Short."), tokens_per_second=None)
    await _send(member, "Alpha on a phone")
    await expect(assistant(member).last).to_contain_text("Short.")
    await member.set_viewport_size({"width": 390, "height": 844})
    title = member.locator(".solo-chat-title")
    await expect(title).to_have_text("Alpha chat")
    box = await title.bounding_box()
    assert box is not None and box["width"] >= 80, box
    assert await member.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    # Made narrower, the conversation grew taller: the page still shows its latest message.
    await expect(member.get_by_role("button", name="Jump to latest")).to_be_hidden()
    assert await _bottom_gap(member) < 80
