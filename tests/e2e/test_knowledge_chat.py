"""Knowledge in the chat, in a real browser: a member attaches a PDF in the composer (a chip with its type and
size), a program renamed .pdf is refused beside its chip, the question is answered from the PDF while the reply
streams, the reply lists its Sources (file and page) and a source opens the file's preview at that page; after a
reload the attachment and the sources are still there. Screenshots in light and dark."""

from __future__ import annotations

import re
import uuid
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Page, expect

from tests.e2e.test_markdown import SHOTS
from tests.e2e.test_shell import _sign_up, at
from tests.fakes.documents import EXE_BYTES, make_pdf
from tests.fakes.llm_server import FakeLLMServer

pytestmark = pytest.mark.e2e

PAGES = [
    "Welcome to the coaching handbook. This page says who it is for.",
    "Onboarding has five steps: a welcome call, the goals worksheet, the first session, a review and a plan.",
    "Billing happens monthly; members can pause their plan for up to two months.",
]


def answer(body: dict[str, Any]) -> str:
    messages = body.get("messages", [])
    if any("short title" in str(m.get("content", "")) for m in messages):
        return "Onboarding steps"
    system = " ".join(str(m.get("content", "")) for m in messages if m.get("role") == "system")
    if "five steps" in system:  # the handbook's page 2 reached the model as a numbered source
        number = re.search(r'<source number="(\d+)" from="[^"]*page 2', system)
        return f"Onboarding has five steps, from a welcome call to a plan [{number.group(1) if number else '?'}]."
    return "I could not find that in your files."


async def _shoot(page: Page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(SHOTS / f"knowledge-{name}.png"))


async def test_an_attached_pdf_answers_with_sources(
    app_server, page: Page, llm: FakeLLMServer, tmp_path: Path
) -> None:
    await page.set_viewport_size({"width": 1280, "height": 800})
    await _sign_up(page, app_server.url("/signup"), "Kim", f"kim-{uuid.uuid4().hex[:8]}@example.com")
    await expect(page).to_have_url(at(app_server, "/"))
    llm.configure(reply=answer, tokens_per_second=6)  # slow enough to watch it stream

    pdf = tmp_path / "Coaching handbook.pdf"
    pdf.write_bytes(make_pdf(PAGES))
    fake = tmp_path / "invoice.pdf"
    fake.write_bytes(EXE_BYTES + b"\0" * 4096)
    await page.get_by_label("Choose files to attach").set_input_files([str(pdf), str(fake)])

    chips = page.locator("#composer .solo-file-chip")
    handbook = chips.filter(has_text="Coaching handbook.pdf")
    await expect(handbook).to_contain_text("PDF ·", timeout=20_000)
    refused = chips.filter(has_text="invoice.pdf")
    await expect(refused.get_by_role("alert")).to_contain_text("program", timeout=20_000)
    await _shoot(page, "composer-chips")
    await refused.get_by_role("button", name="Remove invoice.pdf").click()
    await expect(refused).to_have_count(0)

    await page.get_by_label("Message").fill("How many onboarding steps are there?")
    await page.get_by_role("button", name="Send").click()
    await expect(chips).to_have_count(0)  # the attachment went with the message
    question = page.locator(".solo-message[data-role='user']").last
    await expect(question.locator(".solo-file-chip")).to_contain_text("Coaching handbook.pdf")
    # The reply streams (the file is read first, then the model answers a token at a time).
    await expect(page.locator("#streaming-reply")).to_contain_text("five steps", timeout=60_000)
    reply = page.locator(".solo-message[data-role='assistant']").last
    await expect(reply).to_contain_text("to a plan [", timeout=30_000)
    sources = reply.get_by_role("region", name="Sources")
    await expect(sources).to_contain_text("Coaching handbook.pdf")
    await expect(sources).to_contain_text("page 2")
    await expect(sources).to_contain_text("five steps")
    await _shoot(page, "reply-sources")

    # After a reload the attachment and the sources are still there.
    await expect(page).to_have_url(re.compile(r"/c/[0-9a-f-]{36}$"))
    await page.reload()
    reply = page.locator(".solo-message[data-role='assistant']").last
    await expect(reply.get_by_role("region", name="Sources")).to_contain_text("page 2", timeout=20_000)
    await expect(
        page.locator(".solo-message[data-role='user']").last.locator(".solo-file-chip")
    ).to_contain_text("Coaching handbook.pdf")
    await page.get_by_role("button", name="Account", exact=True).click()
    await page.get_by_role("menuitem", name="Dark mode").click()
    await expect(page.locator("html")).to_have_class(re.compile(r"\bdark\b"))
    await _shoot(page, "reply-sources-dark")

    # A source opens the file's preview at its page.
    await (
        reply.get_by_role("region", name="Sources").get_by_role("link", name="Coaching handbook.pdf").click()
    )
    await expect(page).to_have_url(re.compile(r"/files\?file=[0-9a-f-]{36}&page=2$"))
    await expect(page.get_by_text("Onboarding has five steps").first).to_be_visible(timeout=20_000)


async def test_a_file_uploaded_on_the_files_page_answers_through_a_collection(
    app_server, page: Page, llm: FakeLLMServer, tmp_path: Path
) -> None:
    """The issue's journey: upload a PDF on the Files page -> Ready -> put it in a collection -> a new chat
    searches that collection (Knowledge picker) -> the streamed reply cites the file and page -> after a reload
    the Sources are still there."""
    await page.set_viewport_size({"width": 1280, "height": 800})
    await _sign_up(page, app_server.url("/signup"), "Lee", f"lee-{uuid.uuid4().hex[:8]}@example.com")
    await expect(page).to_have_url(at(app_server, "/"))
    llm.configure(reply=answer, tokens_per_second=6)

    pdf = tmp_path / "Handbook 2027.pdf"
    pdf.write_bytes(make_pdf(PAGES))
    await page.get_by_role("link", name="Files", exact=True).first.click()
    await page.get_by_label("Upload files").set_input_files([str(pdf)])
    row = page.get_by_role("row").filter(has=page.get_by_role("button", name=pdf.name, exact=True))
    await expect(row.get_by_text("Ready", exact=True)).to_be_visible(timeout=90_000)
    await page.get_by_role("button", name="Manage collections").click()
    manage = page.get_by_role("dialog")
    await manage.get_by_label("New collection").fill("Team handbook")
    await manage.get_by_role("button", name="Create").click()
    await expect(manage.get_by_text("Team handbook", exact=True)).to_be_visible()
    await manage.get_by_role("button", name="Done").click()
    await page.get_by_role("button", name=f"Collections of {pdf.name}").click()
    chooser = page.get_by_role("dialog")
    await chooser.get_by_role("checkbox", name="Team handbook").click()
    await chooser.get_by_role("button", name="Save").click()
    await expect(row.locator(".files-in")).to_have_text("Team handbook")

    await page.get_by_role("link", name="Chat", exact=True).first.click()
    await expect(page).to_have_url(at(app_server, "/"))
    await page.get_by_role("button", name="Knowledge").click()
    picker = page.get_by_role("dialog")
    choice = picker.get_by_role("checkbox", name=re.compile("Team handbook"))
    await choice.click()
    await expect(choice).to_be_checked()
    await page.keyboard.press("Escape")
    await expect(page.get_by_role("button", name="Knowledge")).to_contain_text("1")
    await page.get_by_label("Message").fill("How many onboarding steps are there?")
    await page.get_by_role("button", name="Send").click()
    await expect(page.locator("#streaming-reply")).to_contain_text("five steps", timeout=60_000)
    reply = page.locator(".solo-message[data-role='assistant']").last
    await expect(reply).to_contain_text("to a plan [1]", timeout=30_000)
    sources = reply.get_by_role("region", name="Sources")
    await expect(sources).to_contain_text(pdf.name)
    await expect(sources).to_contain_text("page 2")
    await _shoot(page, "collection-reply")
    await expect(page).to_have_url(re.compile(r"/c/[0-9a-f-]{36}$"))
    await page.reload()
    await expect(
        page.locator(".solo-message[data-role='assistant']").last.get_by_role("region", name="Sources")
    ).to_contain_text("page 2", timeout=20_000)
    await expect(page.get_by_role("button", name="Knowledge")).to_contain_text(
        "1"
    )  # the chat keeps its choice
