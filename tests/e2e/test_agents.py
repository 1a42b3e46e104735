"""The Agents pages in a real browser: a member signs up, opens Agents, builds a new agent, tests the unsaved form
(the fake model's reply streams in, its calculator call shows as a card, the calculator's "When to use it"
setting is in what the model reads), saves it as version 1 (and a change as
version 2, compared with version 1), finds its card with "Chat" linking to /?agent=<id>, and starts another agent
from the "Hybrid Offer" template, stops a slow test reply, clears the test chat and deletes that copy. The
workspace's owner sees the admin controls (hide a template, members build agents). Screenshots: desktop light,
phone dark."""

from __future__ import annotations

import re
import uuid
from typing import Any

import pytest
from playwright.async_api import FilePayload, Page, expect

from services import tenants
from services.db import global_session
from tests.conftest import make_user, unique_slug
from tests.e2e.test_markdown import SHOTS
from tests.e2e.test_shell import PASSWORD, _log_in, _sign_up, at
from tests.fakes.documents import make_image
from tests.fakes.llm_server import FakeLLMServer, FakeToolCall

pytestmark = pytest.mark.e2e

OVERFLOW = "() => [document.documentElement.scrollWidth, window.innerWidth]"
INSTRUCTIONS = "You help coaches price their offers. Answer in three short sentences."
REPLY = "Hello! I can help you price your offer."
GUIDANCE = "Use it for every price you quote."


async def _shoot(page: Page, name: str, *, full_page: bool = True) -> None:
    """The builder is shot as the window shows it: its save bar and test chat stick to the window."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(SHOTS / f"agents-{name}.png"), full_page=full_page)


def _calculate_once(body: dict[str, Any]) -> list[FakeToolCall]:
    """The fake "calls" the calculator when tools are offered and the member just spoke (not after the result)."""
    messages = body.get("messages") or []
    if body.get("tools") and messages and messages[-1].get("role") == "user":
        return [FakeToolCall("calculator", {"expression": "1299 * 12"})]
    return []


def _system_of(llm: FakeLLMServer, question: str) -> str:
    for request in reversed(llm.chat_requests()):
        messages = request.body.get("messages", [])
        if any(m.get("role") == "user" and m.get("content") == question for m in messages):
            return "\n".join(str(m.get("content", "")) for m in messages if m.get("role") == "system")
    raise AssertionError(f"no request asked {question!r}")


def _tool_description(llm: FakeLLMServer, name: str) -> str:
    for request in reversed(llm.chat_requests()):
        for tool in request.body.get("tools") or []:
            if tool["function"]["name"] == name:
                return str(tool["function"]["description"])
    raise AssertionError(f"no request offered {name!r}")


async def test_build_test_save_and_use_a_template(app_server, page: Page, llm: FakeLLMServer) -> None:
    async with global_session() as session:
        t = await tenants.create_tenant(session, name="Coachly", slug=unique_slug("agt"), accent_color="teal")
    host = f"{t.slug}.localhost"
    owner = f"owner-{uuid.uuid4().hex[:6]}@example.com"
    await make_user(t.id, owner, password=PASSWORD, name="Olga Owner")
    await page.set_viewport_size({"width": 1280, "height": 900})
    await _sign_up(
        page, app_server.url("/signup", host=host), "Nina Member", f"nina-{uuid.uuid4().hex[:6]}@example.com"
    )
    await expect(page).to_have_url(at(app_server, "/", host=host))
    llm.configure(reply=REPLY, tokens_per_second=300, tool_calls=_calculate_once)

    # Agents, from the navigation: nothing of the member's yet, the gallery below.
    await page.get_by_role("link", name="Agents", exact=True).first.click()
    await expect(page).to_have_url(at(app_server, "/agents", host=host))
    await expect(page.get_by_role("heading", name="Agents", exact=True)).to_be_visible()
    await expect(page.get_by_text("No agents yet.")).to_be_visible()
    templates = page.get_by_role("list", name="Templates")
    await expect(templates.get_by_role("article", name="Hybrid Offer")).to_be_visible()

    # New agent: fill the form, then test it unsaved.
    await page.get_by_role("link", name="New agent").click()
    await expect(page).to_have_url(at(app_server, "/agents/new", host=host))
    await page.get_by_label("Name", exact=True).fill("Offer Coach")
    await page.get_by_label("Instructions", exact=True).fill(INSTRUCTIONS)
    await page.get_by_role("checkbox", name="Calculator").click()
    await expect(page.get_by_role("checkbox", name="Calculator")).to_be_checked()
    calculator = page.get_by_role("group", name="Settings of Calculator")
    await calculator.locator("summary").click()
    await calculator.get_by_label("When to use it").fill(GUIDANCE)
    preview = page.get_by_role("region", name="Preview")
    await expect(preview.get_by_role("article", name="Offer Coach")).to_be_visible()

    test_box = page.get_by_label("Test message")
    await test_box.fill("Hello")
    await test_box.press("Enter")
    log = page.get_by_role("log", name="Test conversation")
    await expect(log).to_contain_text(REPLY, timeout=20_000)
    await expect(page.get_by_role("button", name="Test", exact=True)).to_be_visible()  # no longer running
    await expect(test_box).to_have_value("")
    card = log.locator("details.solo-tool-card").first
    await expect(card).to_contain_text("calculator")
    await expect(card).to_contain_text("Done")
    await card.locator("summary").click()
    await expect(card).to_contain_text("1299 * 12 = 15588")
    assert INSTRUCTIONS in _system_of(llm, "Hello")
    assert _tool_description(llm, "calculator").endswith(
        GUIDANCE
    )  # the unsaved setting, as the model reads it

    # Save: version 1, and the address becomes the agent's.
    await page.get_by_role("button", name="Save", exact=True).click()
    await expect(page.get_by_role("status")).to_contain_text("Saved as version 1")
    await expect(page).to_have_url(re.compile(r"/agents/[0-9a-f-]{36}$"))
    agent_id = page.url.rsplit("/", 1)[1]

    # A change is version 2 (an uploaded avatar image and a description); Compare shows what it changed.
    fox = FilePayload(
        name="fox.png", mimeType="image/png", buffer=make_image("png", 300, 300, (240, 120, 20))
    )
    await page.set_input_files("#agent-avatar-file", files=fox)
    await expect(page.get_by_role("img", name="The agent's avatar")).to_be_visible()
    await expect(preview.locator("img.agent-avatar-img")).to_be_visible()  # the preview shows it too
    await expect(preview).not_to_contain_text("image:")
    await page.get_by_label("Description", exact=True).fill("Prices your offer with you, step by step.")
    await expect(page.get_by_text("Unsaved changes")).to_be_visible()
    await page.get_by_role("button", name="Save", exact=True).click()
    await expect(page.get_by_role("status")).to_contain_text("Saved as version 2")
    versions = page.get_by_role("list", name="Versions").get_by_role("listitem")
    await expect(versions).to_have_count(2)
    await expect(versions.first).to_contain_text("Version 2")
    await page.reload()
    await expect(page.get_by_label("Name", exact=True)).to_have_value("Offer Coach")
    calculator = page.get_by_role("group", name="Settings of Calculator")
    await calculator.locator("summary").click()
    await expect(calculator.get_by_label("When to use it")).to_have_value(GUIDANCE)
    await calculator.scroll_into_view_if_needed()
    await _shoot(page, "tool-settings", full_page=False)
    await page.evaluate("window.scrollTo(0, 0)")
    await _shoot(page, "builder-desktop-light", full_page=False)
    await page.get_by_role("button", name="Compare version 1").click()
    dialog = page.get_by_role("dialog")
    await expect(dialog).to_contain_text("Description")
    await expect(dialog).to_contain_text("Prices your offer with you, step by step.")
    await _shoot(page, "compare", full_page=False)
    await dialog.get_by_role("button", name="Close").click()
    await expect(dialog).to_have_count(0)

    # Validation: a refused save says why beside the form and keeps what was typed.
    await page.get_by_label("Temperature", exact=True).fill("7")
    await page.get_by_role("button", name="Save", exact=True).click()
    await expect(page.get_by_role("alert")).to_contain_text("The temperature is a number from 0 to 2")
    await expect(page.get_by_label("Temperature", exact=True)).to_have_value("7")
    await _shoot(page, "refused", full_page=False)
    await page.get_by_label("Temperature", exact=True).fill("")

    # Back to Agents: the card, with Chat linking to the chat page with the agent.
    await page.get_by_role("link", name="Agents", exact=True).first.click()
    await expect(page).to_have_url(at(app_server, "/agents", host=host))
    mine = page.get_by_role("list", name="Agents").get_by_role("article", name="Offer Coach")
    await expect(mine).to_contain_text("Private")
    await expect(mine).to_contain_text("Prices your offer")
    await expect(mine.get_by_role("link", name="Chat with Offer Coach")).to_have_attribute(
        "href", f"/?agent={agent_id}"
    )
    await expect(mine.get_by_role("link", name="Edit Offer Coach")).to_be_visible()
    picture = mine.locator("img.agent-avatar-img")
    await expect(picture).to_have_attribute("src", re.compile(r"^/api/agents/avatar/[0-9a-f]{64}\.png$"))
    loaded = "i => i.complete && i.naturalWidth === 256"  # served to the member: the redrawn 256 px PNG
    await page.wait_for_function(loaded, arg=await picture.element_handle(), timeout=10_000)
    await _shoot(page, "list-desktop-light")

    # "Use template" on Hybrid Offer: a private copy, opened in the builder with its instructions.
    await (
        templates.get_by_role("article", name="Hybrid Offer")
        .get_by_role("button", name="Use template")
        .click()
    )
    await expect(page).to_have_url(re.compile(r"/agents/[0-9a-f-]{36}$"))
    assert page.url.rsplit("/", 1)[1] != agent_id
    await expect(page.get_by_label("Name", exact=True)).to_have_value("Hybrid Offer")
    await expect(page.get_by_label("Instructions", exact=True)).to_have_value(
        re.compile(r"^You are Hybrid Offer")
    )
    await expect(page.get_by_role("list", name="Versions").get_by_role("listitem")).to_have_count(1)

    # A phone in dark mode: the test chat goes under the form, nothing overflows sideways.
    await page.set_viewport_size({"width": 390, "height": 844})
    await page.get_by_role("button", name="Account", exact=True).click()
    await page.get_by_role("menuitem", name="Dark mode").click()
    await expect(page.locator("html")).to_have_class(re.compile(r"\bdark\b"))
    await page.get_by_label("Test message").fill("What should I charge?")
    await page.get_by_role("button", name="Test", exact=True).click()
    await expect(page.get_by_role("log", name="Test conversation")).to_contain_text(REPLY, timeout=20_000)
    width, viewport = await page.evaluate(OVERFLOW)
    assert width <= viewport, f"the builder overflows sideways: {width} > {viewport}"
    await _shoot(page, "builder-phone-dark", full_page=False)

    # Stop while a slow reply streams: the text so far stays, marked stopped; Clear empties the test chat.
    llm.configure(reply="Let me think about your pricing " * 40, tokens_per_second=8, tool_calls=())
    await page.get_by_label("Test message").fill("And for a group?")
    await page.get_by_role("button", name="Test", exact=True).click()
    await expect(page.get_by_role("log", name="Test conversation")).to_contain_text("Let me think")
    await page.get_by_role("button", name="Stop").click()
    await expect(page.get_by_role("log", name="Test conversation")).to_contain_text("Stopped.")
    await expect(page.get_by_role("button", name="Test", exact=True)).to_be_visible()
    await page.get_by_role("button", name="Clear").click()
    await expect(page.get_by_role("log", name="Test conversation")).not_to_contain_text(
        "What should I charge?"
    )

    # Delete (after confirming): back on Agents, which says so.
    await page.get_by_role("button", name="Delete", exact=True).click()
    await page.get_by_role("alertdialog").get_by_role("button", name="Delete agent").click()
    await expect(page).to_have_url(at(app_server, "/agents", host=host))
    await expect(page.get_by_role("status")).to_contain_text("Deleted “Hybrid Offer”")
    await expect(page.get_by_role("list", name="Agents").get_by_role("article")).to_have_count(1)
    width, viewport = await page.evaluate(OVERFLOW)
    assert width <= viewport, f"the Agents page overflows sideways: {width} > {viewport}"
    await _shoot(page, "list-phone-dark")

    # The owner: the admin controls (hide a template, whether members build agents); members' agents stay theirs.
    await page.get_by_role("button", name="Account", exact=True).click()
    await page.get_by_role("menuitem", name="Log out").click()
    await expect(page).to_have_url(re.compile(r"/login"))
    await page.set_viewport_size({"width": 1280, "height": 900})
    await _log_in(page, app_server.url("/login", host=host), owner)
    await expect(page).not_to_have_url(re.compile(r"/login/?$"), timeout=20_000)
    await page.goto(app_server.url("/agents", host=host))
    await expect(page.get_by_role("switch", name="Members may build agents")).to_be_checked()
    await expect(page.get_by_text("No agents yet.")).to_be_visible()  # the member's private agents are theirs
    await templates.get_by_role("article", name="Hybrid Offer").get_by_role("button", name="Hide").click()
    await expect(page.get_by_role("status")).to_contain_text("“Hybrid Offer” is hidden")
    await expect(templates.get_by_role("article", name="Hybrid Offer")).to_contain_text("Hidden")
    await _shoot(page, "list-owner")
    await templates.get_by_role("article", name="Hybrid Offer").get_by_role("button", name="Show").click()
    await expect(page.get_by_role("status")).to_contain_text("back in the gallery")

    # The owner's own template: "Save as template" in the builder, listed in the gallery, deleted after confirming.
    await page.get_by_role("link", name="New agent").click()
    await page.get_by_label("Name", exact=True).fill("Launch Planner")
    await page.get_by_label("Instructions", exact=True).fill("You plan launches week by week.")
    await page.get_by_role("button", name="Save as template").click()
    await expect(page.get_by_role("status")).to_contain_text(
        "“Launch Planner” is now one of the workspace's templates"
    )
    await page.get_by_role("link", name="Agents", exact=True).first.click()
    planner = templates.get_by_role("article", name="Launch Planner")
    await expect(planner.get_by_role("button", name="Use template Launch Planner")).to_be_visible()
    await planner.get_by_role("button", name="Delete template Launch Planner").click()
    await page.get_by_role("alertdialog").get_by_role("button", name="Delete template").click()
    await expect(page.get_by_role("status")).to_contain_text("Deleted the template “Launch Planner”")
    await expect(templates.get_by_role("article", name="Launch Planner")).to_have_count(0)
    seeded = templates.get_by_role("article", name="Hybrid Offer")
    await expect(seeded.get_by_role("button", name=re.compile("^Delete template"))).to_have_count(0)
