"""The Memory page in a real browser, against the real store: a member opens Memory from the navigation, adds a
memory (an empty one is refused beside the form), finds it by search and by category, edits it inline, pins and
unpins it, sees one that came from a chat linking back to its conversation, exports them as JSON, forgets one,
then forgets everything after confirming. Screenshots on a desktop in light and a phone in dark."""

from __future__ import annotations

import json
import re
import uuid
from pathlib import Path

import pytest
from playwright.async_api import Page, expect
from sqlmodel import col, select

from models import User
from services import tenants
from services.context import Ctx
from services.db import global_session, tenant_session
from services.memory import store
from tests.conftest import make_user, unique_slug
from tests.e2e.test_markdown import SHOTS
from tests.e2e.test_shell import PASSWORD, _sign_up, at
from tests.fakes.llm_server import FakeLLMServer

pytestmark = pytest.mark.e2e

OVERFLOW = "() => [document.documentElement.scrollWidth, window.innerWidth]"


async def _shoot(page: Page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(SHOTS / f"memory-{name}.png"), full_page=True)


async def _member_ctx(tenant_id: uuid.UUID, email: str) -> Ctx:
    async with tenant_session(tenant_id) as session:
        user = (await session.execute(select(User).where(col(User.email) == email))).scalar_one()
        return Ctx(tenant_id=tenant_id, user_id=user.id, role=user.role)


async def test_memory_journey(app_server, page: Page, llm: FakeLLMServer, tmp_path: Path) -> None:
    async with global_session() as session:
        t = await tenants.create_tenant(session, name="Recall", slug=unique_slug("mem"), accent_color="iris")
    host = f"{t.slug}.localhost"
    await make_user(t.id, f"owner-{uuid.uuid4().hex[:6]}@example.com", password=PASSWORD, name="Otto Owner")
    email = f"mia-{uuid.uuid4().hex[:6]}@example.com"
    await page.set_viewport_size({"width": 1280, "height": 860})
    await _sign_up(page, app_server.url("/signup", host=host), "Mia Memo", email)
    await expect(page).to_have_url(at(app_server, "/", host=host))

    # A chat, so that one memory can come from a conversation (as the assistant's extraction will store it).
    llm.configure(reply="Noted.", tokens_per_second=2000)
    await page.get_by_label("Message").fill("I run a bakery in Porto.")
    await page.get_by_role("button", name="Send").click()
    await expect(page).to_have_url(re.compile(r"/c/[0-9a-f-]{36}$"), timeout=20_000)
    conversation = uuid.UUID(page.url.rsplit("/", 1)[1])
    ctx = await _member_ctx(t.id, email)
    await store.add_memory(
        ctx,
        "Mia runs a bakery in Porto",
        category="business",
        source="extracted",
        conversation_id=conversation,
    )

    await page.get_by_role("link", name="Memory", exact=True).first.click()
    await expect(page).to_have_url(at(app_server, "/memory", host=host))
    await expect(page.get_by_role("heading", name="Memory", exact=True)).to_be_visible()
    await expect(page.get_by_text("Only you see them")).to_be_visible()
    rows = page.get_by_role("list", name="Memories").get_by_role("listitem")
    await expect(rows).to_have_count(1)
    bakery = rows.filter(has_text="Mia runs a bakery in Porto.")
    await expect(bakery).to_contain_text("Learnt from chat")
    await expect(bakery).to_contain_text("Never used")
    await expect(bakery.get_by_text("Business", exact=True)).to_be_visible()
    link = bakery.get_by_role("link", name="From this conversation")
    await expect(link).to_have_attribute("href", f"/c/{conversation}")

    # Add: an empty memory is refused beside the form, then a real one is saved.
    form = page.get_by_role("form", name="Add memory")
    await form.get_by_role("button", name="Save").click()
    await expect(form.get_by_role("alert")).to_contain_text("Write the memory as a sentence")
    await form.get_by_label("Memory", exact=True).fill("I prefer short answers with bullet points")
    await form.get_by_label("Category").select_option(label="Preference")
    await form.get_by_role("button", name="Save").click()
    await expect(form.get_by_role("alert")).to_have_count(0)
    await expect(rows).to_have_count(2)
    short = rows.filter(has_text="I prefer short answers with bullet points.")
    await expect(short).to_contain_text("Added by you")
    await expect(short.get_by_text("Preference", exact=True)).to_be_visible()
    await expect(form.get_by_label("Memory", exact=True)).to_have_value("")
    await expect(form.get_by_label("Category")).to_have_value("other")  # the next one starts afresh
    await expect(page.locator("#memory-count")).to_have_text("2 of 2 memories")

    # Search (debounced) and the category filter.
    toolbar = page.get_by_role("search")
    await toolbar.get_by_label("Search memories").press_sequentially("bullet", delay=30)
    await expect(rows).to_have_count(1)
    await expect(rows.first).to_contain_text("short answers")
    await toolbar.get_by_label("Search memories").fill("")
    await expect(rows).to_have_count(2)
    await toolbar.get_by_label("Category").select_option(label="Business")
    await expect(rows).to_have_count(1)
    await expect(rows.first).to_contain_text("bakery")
    await toolbar.get_by_label("Category").select_option(label="All categories")
    await expect(rows).to_have_count(2)

    # Edit inline: Cancel keeps the text, Save changes it.
    await page.get_by_role("button", name="Edit I prefer short answers with…").click()
    edited = rows.filter(has=page.get_by_label("Memory text"))
    await expect(edited.get_by_label("Memory text")).to_have_value(
        "I prefer short answers with bullet points."
    )
    await edited.get_by_role("button", name="Cancel").click()
    await expect(page.get_by_label("Memory text")).to_have_count(0)
    await expect(short).to_have_count(1)
    await page.get_by_role("button", name="Edit I prefer short answers with…").click()
    await edited.get_by_label("Memory text").fill("I prefer short answers in plain words")
    await edited.get_by_role("button", name="Save").click()
    renamed = rows.filter(has_text="I prefer short answers in plain words.")
    await expect(renamed).to_have_count(1)
    await expect(page.get_by_label("Memory text")).to_have_count(0)

    # Pin: it goes first, marked; Unpin takes the mark away.
    await page.get_by_role("button", name="Pin I prefer short answers in…").click()
    await expect(rows.first).to_contain_text("plain words")
    await expect(rows.first.get_by_text("Pinned", exact=True)).to_be_visible()
    await _shoot(page, "desktop-light")

    # Export: the JSON of both memories.
    async with page.expect_download() as info:
        await page.get_by_role("button", name="Export").click()
    exported = tmp_path / "memories.json"
    await (await info.value).save_as(exported)
    data = json.loads(exported.read_text())["memories"]
    assert {m["text"] for m in data} == {
        "Mia runs a bakery in Porto.",
        "I prefer short answers in plain words.",
    }
    assert next(m for m in data if m["pinned"])["category"] == "preference"

    await page.get_by_role("button", name="Unpin I prefer short answers in…").click()
    await expect(page.get_by_role("button", name="Pin I prefer short answers in…")).to_be_visible()
    await expect(rows.get_by_text("Pinned", exact=True)).to_have_count(0)

    # Forget one.
    await page.get_by_role("button", name="Forget Mia runs a bakery in…").click()
    await expect(rows).to_have_count(1)
    await expect(page.get_by_role("status")).to_contain_text("Forgot “Mia runs a bakery in…”.")

    # Two more, then forget everything (after confirming) -> the empty state.
    for text in ("My goal is ten new clients by March", "Call me Mia"):
        await form.get_by_label("Memory", exact=True).fill(text)
        await form.get_by_role("button", name="Save").click()
        await expect(rows.filter(has_text=text)).to_have_count(1)
    await expect(rows).to_have_count(3)
    await expect(rows.filter(has_text="Call me Mia.").get_by_text("Other", exact=True)).to_be_visible()

    await page.set_viewport_size({"width": 390, "height": 844})
    await page.get_by_role("button", name="Account", exact=True).click()
    await page.get_by_role("menuitem", name="Dark mode").click()
    await expect(page.locator("html")).to_have_class(re.compile(r"\bdark\b"))
    await expect(page.get_by_role("menu")).to_have_count(0)
    width, viewport = await page.evaluate(OVERFLOW)
    assert width <= viewport, f"the Memory page overflows sideways: {width} > {viewport}"
    await _shoot(page, "phone-dark")

    await page.get_by_role("button", name="Forget everything").click()
    confirm = page.get_by_role("alertdialog")
    await expect(confirm).to_contain_text("All 3 of your memories")
    await confirm.get_by_role("button", name="Cancel").click()
    await expect(confirm).to_have_count(0)
    await expect(rows).to_have_count(3)
    await page.get_by_role("button", name="Forget everything").click()
    await page.get_by_role("alertdialog").get_by_role("button", name="Forget everything").click()
    await expect(page.get_by_role("status")).to_have_text("Forgot 3 memories.")
    await expect(page.get_by_text("No memories yet.")).to_be_visible()
    await expect(rows).to_have_count(0)
    assert await store.list_memories(ctx) == []
    await _shoot(page, "phone-dark-empty")

    # "Use memory": off, and still off after a reload (the member's own switch, kept on the server).
    switch = page.get_by_role("switch", name="Use memory")
    await expect(switch).to_be_checked()
    await switch.click()
    await expect(page.get_by_role("status")).to_contain_text("Memory is off")
    assert (await store.memory_state(ctx)).enabled is False
    await page.reload()
    await expect(page.get_by_role("switch", name="Use memory")).not_to_be_checked()
    await page.get_by_role("switch", name="Use memory").click()
    await expect(page.get_by_role("status")).to_contain_text("Memory is on")


def _asked(llm: FakeLLMServer, question: str) -> str:
    """The system text of the request that asked `question` (not the title request that follows it)."""
    for request in reversed(llm.chat_requests()):
        messages = request.body.get("messages", [])
        system = "\n".join(str(m.get("content", "")) for m in messages if m.get("role") == "system")
        if messages and messages[-1].get("content") == question and "short title" not in system:
            return system
    raise AssertionError(f"no request asked {question!r}")


async def _ask(page: Page, app_server, question: str) -> None:  # type: ignore[no-untyped-def]
    await page.get_by_role("link", name="Chat", exact=True).first.click()
    await page.get_by_role("link", name="New chat").first.click()
    await page.get_by_label("Message").fill(question)
    await page.get_by_role("button", name="Send").click()
    await expect(page.locator(".solo-message[data-role='assistant']").last).to_contain_text(
        "Noted", timeout=30_000
    )


async def test_a_memory_reaches_the_model_shows_under_the_reply_and_follows_edits_and_the_switch(
    app_server, page: Page, llm: FakeLLMServer
) -> None:
    await _sign_up(page, app_server.url("/signup"), "Rosa", f"rosa-{uuid.uuid4().hex[:8]}@example.com")
    await expect(page).to_have_url(at(app_server, "/"))
    llm.configure(reply="Noted.")
    await page.get_by_role("link", name="Memory", exact=True).first.click()
    await page.get_by_label("Memory", exact=True).fill("I run a bakery in Porto.")
    await page.get_by_role("button", name="Save").click()
    await expect(
        page.locator(".memory-row, li, tr").filter(has_text="I run a bakery in Porto.").first
    ).to_be_visible()

    await _ask(page, app_server, "What should I post this week?")
    assert "- I run a bakery in Porto." in _asked(llm, "What should I post this week?")
    reply = page.locator(".solo-message[data-role='assistant']").last
    await reply.get_by_role("button", name="Used 1 memory").click()
    await expect(reply.get_by_text("I run a bakery in Porto.")).to_be_visible()
    await _shoot(page, "used-under-reply")
    await reply.get_by_role("link", name="Edit I run a bakery in Porto.").click()
    await expect(page).to_have_url(re.compile(r"/memory\?edit=[0-9a-f-]{36}$"))
    editor = page.get_by_role("textbox").filter(has_text="I run a bakery in Porto.")
    await editor.fill("I run two bakeries in Porto.")
    await page.get_by_role("button", name="Save", exact=True).last.click()
    await expect(page.get_by_text("I run two bakeries in Porto.")).to_be_visible()

    await _ask(page, app_server, "Any ideas for a promotion?")
    system = _asked(llm, "Any ideas for a promotion?")
    assert "- I run two bakeries in Porto." in system and "a bakery in Porto" not in system

    await page.get_by_role("link", name="Memory", exact=True).first.click()
    await page.get_by_role("switch", name="Use memory").click()
    await expect(page.get_by_role("status")).to_contain_text("Memory is off")
    await _ask(page, app_server, "And for the summer?")
    assert "<memory>" not in _asked(llm, "And for the summer?")


async def test_a_fact_said_in_chat_is_learnt_in_the_background_and_only_its_member_sees_it(
    app_server, browser, page: Page, llm: FakeLLMServer
) -> None:
    from sqlalchemy import text

    from services.memory import extract
    from tests.services.test_memory_extract import script

    async with global_session() as session:
        t = await tenants.create_tenant(session, name="Learn", slug=unique_slug("lrn"), accent_color="teal")
    host = f"{t.slug}.localhost"
    await make_user(t.id, f"owner-{uuid.uuid4().hex[:6]}@example.com", password=PASSWORD, name="Otto Owner")
    email = f"dina-{uuid.uuid4().hex[:8]}@example.com"
    await _sign_up(page, app_server.url("/signup", host=host), "Dina", email)
    await expect(page).to_have_url(at(app_server, "/", host=host))
    learnt = "The user coaches dentists in Lisbon."
    llm.configure(
        reply="Noted.",
        tool_calls=script(
            lambda _: [{"op": "add", "text": learnt, "category": "business", "key": "clients"}]
        ),
    )
    await page.get_by_label("Message").fill("I coach dentists in Lisbon. What should I write about?")
    await page.get_by_role("button", name="Send").click()
    await expect(page.locator(".solo-message[data-role='assistant']").last).to_contain_text(
        "Noted", timeout=30_000
    )
    await expect(page).to_have_url(re.compile(r"/c/[0-9a-f-]{36}$"))
    conversation = uuid.UUID(page.url.rsplit("/", 1)[1])
    # The reply scheduled the conversation's extraction (after a quiet period); the app's own worker runs it once
    # it is due: here, at once.
    ctx = await _member_ctx(t.id, email)
    async with global_session() as session:
        due = await session.execute(
            text("UPDATE jobs SET run_at = now() WHERE dedupe_key = :k AND status = 'queued' RETURNING id"),
            {"k": extract.job_key(ctx.user_id)},
        )
        assert due.first() is not None, "the reply scheduled no extraction"
    for _ in range(60):  # the worker polls every half second
        if any(m.text == learnt for m in await store.list_memories(ctx)):
            break
        await page.wait_for_timeout(250)
    [memory] = [m for m in await store.list_memories(ctx) if m.text == learnt]
    assert (memory.source, memory.conversation_id) == ("extracted", conversation)
    extraction = [r for r in llm.chat_requests() if r.body.get("tools")]
    assert len(extraction) == 1
    assert "I coach dentists in Lisbon." in extraction[0].body["messages"][-1]["content"]

    await page.get_by_role("link", name="Memory", exact=True).first.click()
    row = page.get_by_role("list", name="Memories").get_by_role("listitem").filter(has_text=learnt)
    await expect(row).to_contain_text("Learnt from chat")
    await _shoot(page, "learnt-from-chat")
    # Its provenance opens the message it came from.
    await row.get_by_role("link", name="From this conversation").click()
    await expect(page).to_have_url(re.compile(f"/c/{conversation}\\?m={memory.message_id}$"))
    await expect(page.locator(f"#msg-{memory.message_id}")).to_contain_text("I coach dentists in Lisbon.")

    # Another member of the same workspace sees none of it, even with the memory's id in the address.
    other = await browser.new_context()
    try:
        second = await other.new_page()
        await _sign_up(
            second, app_server.url("/signup", host=host), "Eve", f"eve-{uuid.uuid4().hex[:8]}@example.com"
        )
        await expect(second).to_have_url(at(app_server, "/", host=host))
        await second.goto(app_server.url(f"/memory?edit={memory.id}", host=host))
        await expect(second.get_by_role("heading", name="Memory", exact=True)).to_be_visible()
        await expect(second.get_by_text("No memories yet.")).to_be_visible()
        await expect(second.get_by_text(learnt)).to_have_count(0)
    finally:
        await other.close()
