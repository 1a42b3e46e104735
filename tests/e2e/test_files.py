"""The Files page in a real browser, against the real upload route, storage and ingestion worker: a member
uploads a text file and a PDF (both go from Uploading/Processing to Ready), a program renamed .pdf is refused
with the server's reason, then searches, sorts, renames, previews a PDF at page 2 from the URL (as the chat's
Sources link there), puts a file in a new collection and filters by it, and deletes a file after confirming
(the storage bar goes down). Screenshots in light and dark, on a desktop and a phone (no sideways overflow)."""

from __future__ import annotations

import re
import uuid
from pathlib import Path

import pytest
from playwright.async_api import Page, expect

from services import tenants
from services.db import global_session
from tests.conftest import make_user, unique_slug
from tests.e2e.test_markdown import SHOTS
from tests.e2e.test_shell import PASSWORD, _sign_up, at
from tests.fakes.documents import EXE_BYTES, make_pdf

pytestmark = pytest.mark.e2e


READY = 90_000  # ms: the worker extracts and chunks in a child process (slow on a busy machine)

# Records every status the rows show, so that a quick Uploading -> Processing -> Ready is still seen.
WATCH_STATUSES = """() => {
  window.__seen = new Set();
  const note = () => document.querySelectorAll(".files-c-status, .files-c-upload").forEach(
    (el) => window.__seen.add(el.closest("tr").querySelector(".files-name").textContent + ": " + el.textContent));
  note();
  new MutationObserver(note).observe(document.body, {subtree: true, childList: true, characterData: true});
}"""

# Files dropped on the page, as a browser delivers them (a DataTransfer holding the files).
DROP = """(name) => {
  const data = new DataTransfer();
  data.items.add(new File(["Agenda: the lighthouse budget, then questions."], name, {type: "text/plain"}));
  const target = document.querySelector(".files-table");
  for (const type of ["dragenter", "dragover", "drop"]) {
    target.dispatchEvent(new DragEvent(type, {dataTransfer: data, bubbles: true, cancelable: true}));
  }
}"""

OVERFLOW = "() => [document.documentElement.scrollWidth, window.innerWidth]"


def _page_text(n: int) -> str:
    # Long enough that page 2 starts below the preview's first screen.
    return "\n".join(f"Quarterly report page {n}, line {i}: revenue figures and notes." for i in range(45))


async def _shoot(page: Page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(SHOTS / f"files-{name}.png"), full_page=True)


async def _no_overflow(page: Page) -> None:
    width, viewport = await page.evaluate(OVERFLOW)
    assert width <= viewport, f"the Files page overflows sideways: {width} > {viewport}"


async def test_files_journey(app_server, page: Page, tmp_path: Path) -> None:
    # A workspace of its own (its owner made the operator's way); the journey's member signs up there.
    async with global_session() as session:
        t = await tenants.create_tenant(
            session, name="Archive", slug=unique_slug("files"), accent_color="teal"
        )
    host = f"{t.slug}.localhost"
    await make_user(t.id, f"owner-{uuid.uuid4().hex[:6]}@example.com", password=PASSWORD, name="Olga Owner")
    email = f"fay-{uuid.uuid4().hex[:6]}@example.com"
    await _sign_up(page, app_server.url("/signup", host=host), "Fay Filer", email)
    await expect(page).to_have_url(at(app_server, "/", host=host))

    await page.get_by_role("link", name="Files", exact=True).first.click()
    await expect(page).to_have_url(at(app_server, "/files", host=host))
    await expect(page.get_by_role("heading", name="Files", exact=True)).to_be_visible()
    usage = page.locator("#files-usage")
    await expect(usage).to_have_text("0 B of 1 GB used")
    await expect(page.get_by_text("No files yet.")).to_be_visible()

    notes = tmp_path / "notes.txt"
    notes.write_text("Meeting notes\n\nThe budget for the lighthouse project was approved.\n")
    report = tmp_path / "report.pdf"
    report.write_bytes(make_pdf([_page_text(1), _page_text(2), _page_text(3)]))
    program = tmp_path / "setup.pdf"  # a Windows program with a document's name
    program.write_bytes(EXE_BYTES)

    await page.evaluate(WATCH_STATUSES)
    await page.get_by_label("Upload files").set_input_files([notes, report, program])

    rows = page.get_by_role("row")
    refused = rows.filter(has_text="setup.pdf")
    await expect(refused.get_by_role("alert")).to_contain_text("This is a program, not a document")
    await expect(refused.get_by_role("button")).to_have_count(1)  # Dismiss, nothing else
    for name in ("notes.txt", "report.pdf"):
        row = rows.filter(has=page.get_by_role("button", name=name, exact=True))
        await expect(row.get_by_text("Ready", exact=True)).to_be_visible(timeout=READY)
        await expect(row).to_contain_text(name.split(".")[0])
    seen = await page.evaluate("[...window.__seen]")
    assert any(re.match(r"report\.pdf: (Uploading|Processing)", s) for s in seen), seen
    pdf_row = rows.filter(has=page.get_by_role("button", name="report.pdf", exact=True))
    await expect(pdf_row).to_contain_text("PDF")
    await expect(pdf_row.locator(".files-c-pages")).to_have_text("3")
    await _shoot(page, "desktop-light")
    await page.set_viewport_size({"width": 390, "height": 844})
    await expect(refused.get_by_role("button", name="Dismiss")).to_be_visible()
    await _no_overflow(page)
    await _shoot(page, "phone-light")
    await page.set_viewport_size({"width": 1100, "height": 800})
    await refused.get_by_role("button", name="Dismiss").click()
    await expect(refused).to_have_count(0)
    await expect(usage).not_to_have_text("0 B of 1 GB used")
    before = await usage.text_content()

    # Search by name (debounced), then sort by name.
    file_rows = page.locator(".files-table tbody tr")
    await page.get_by_label("Search files").press_sequentially("repo", delay=30)
    await expect(file_rows).to_have_count(1)
    await expect(file_rows.first).to_contain_text("report.pdf")
    await page.get_by_label("Search files").fill("")
    await expect(file_rows).to_have_count(2)
    await page.get_by_label("Sort by").select_option(label="Name")
    await expect(file_rows.first).to_contain_text("notes.txt")

    # Rename.
    await page.get_by_role("button", name="Rename notes.txt").click()
    dialog = page.get_by_role("dialog")
    await expect(dialog.get_by_label("New name")).to_have_value("notes.txt")
    await dialog.get_by_label("New name").fill("lighthouse notes.txt")
    await dialog.get_by_role("button", name="Save").click()
    await expect(dialog).to_have_count(0)
    await expect(page.get_by_role("button", name="lighthouse notes.txt", exact=True)).to_be_visible()
    await expect(page.get_by_role("button", name="notes.txt", exact=True)).to_have_count(0)

    # The preview opens at page 2 from the URL, scrolled there.
    href = await pdf_row.get_by_role("link", name="Download report.pdf").get_attribute("href")
    match = re.search(r"/api/files/([0-9a-f-]{36})/download", href or "")
    assert match, href
    await page.goto(app_server.url(f"/files?file={match.group(1)}&page=2", host=host))
    preview = page.get_by_role("dialog")
    await expect(preview.get_by_role("heading", name="report.pdf")).to_be_visible()
    await expect(preview.get_by_role("heading", name="Page 2", exact=True)).to_be_in_viewport()
    await expect(preview.get_by_role("heading", name="Page 1", exact=True)).not_to_be_in_viewport()
    await expect(preview.get_by_role("heading", name="Page 3", exact=True)).to_have_count(1)
    await expect(preview.get_by_text("Quarterly report page 2, line 0:")).to_be_visible()
    await _shoot(page, "preview")
    await preview.get_by_role("button", name="Close preview").click()
    await expect(preview).to_have_count(0)
    await expect(page).to_have_url(at(app_server, "/files", host=host))  # a reload does not reopen it

    # A collection, a file in it, the filter.
    await page.get_by_role("button", name="Manage collections").click()
    manage = page.get_by_role("dialog")
    await manage.get_by_label("New collection").fill("Research")
    await manage.get_by_role("button", name="Create").click()
    await expect(manage.get_by_text("Research", exact=True)).to_be_visible()
    await expect(manage.get_by_text("Shared with the workspace")).to_have_count(0)  # members: own ones only
    await manage.get_by_role("button", name="Done").click()
    await page.get_by_role("button", name="Collections of report.pdf").click()
    chooser = page.get_by_role("dialog")
    await chooser.get_by_role("checkbox", name="Research").click()
    await chooser.get_by_role("button", name="Save").click()
    await expect(chooser).to_have_count(0)
    await expect(pdf_row.locator(".files-in")).to_have_text("Research")
    await page.get_by_label("Filter by collection").select_option(label="Research")
    await expect(file_rows).to_have_count(1)
    await expect(file_rows.first).to_contain_text("report.pdf")
    await page.get_by_label("Filter by collection").select_option(label="All collections")
    await expect(file_rows).to_have_count(2)

    # Drag and drop onto the page uploads too.
    await page.evaluate(DROP, "agenda.txt")
    dropped = rows.filter(has=page.get_by_role("button", name="agenda.txt", exact=True))
    await expect(dropped.get_by_text("Ready", exact=True)).to_be_visible(timeout=READY)
    await expect(file_rows).to_have_count(3)
    await expect(page.locator(".files-overlay")).to_be_hidden()  # "Drop to upload" went with the drop

    # Phone width, dark: stacked rows, nothing wider than the screen.
    await page.emulate_media(color_scheme="dark")
    await page.set_viewport_size({"width": 390, "height": 844})
    await expect(page.get_by_role("button", name="Rename report.pdf")).to_be_visible()
    await _no_overflow(page)
    await _shoot(page, "phone-dark")
    await page.set_viewport_size({"width": 1100, "height": 800})
    await _shoot(page, "desktop-dark")

    # Delete after confirming: the row goes, the storage bar goes down.
    await page.get_by_role("button", name="Delete report.pdf").click()
    confirm = page.get_by_role("alertdialog")
    await expect(confirm).to_contain_text("Delete report.pdf?")
    await expect(confirm).to_contain_text(
        "Its text leaves the knowledge base; chats that cite it keep the citation without the link."
    )
    await confirm.get_by_role("button", name="Delete").click()
    await expect(page.get_by_role("status")).to_contain_text("Deleted report.pdf.")
    await expect(file_rows).to_have_count(2)
    await expect(page.get_by_role("button", name="report.pdf", exact=True)).to_have_count(0)
    await expect(usage).not_to_have_text(before or "")
    assert re.fullmatch(r"\d+ B of 1 GB used", await usage.text_content() or ""), (
        "only the text files are left"
    )
