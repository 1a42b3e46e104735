"""Import and export of chats in a real browser: upload through POST /api/import, downloads from /api/export."""

from __future__ import annotations

import json
import re
import uuid
import zipfile

import pytest
from playwright.async_api import Page, expect

from tests.e2e.test_chat import _send, assistant, replies
from tests.e2e.test_shell import _sign_up, at
from tests.fakes.llm_server import FakeLLMServer

pytestmark = pytest.mark.e2e


@pytest.fixture
async def member(app_server, page: Page) -> Page:
    await _sign_up(page, app_server.url("/signup"), "Porter", f"io-{uuid.uuid4().hex[:8]}@example.com")
    await expect(page).to_have_url(at(app_server, "/"), timeout=20_000)  # password hashing is slow under load
    return page


async def test_export_then_import_round_trips_and_lists_skips(
    member: Page, llm: FakeLLMServer, tmp_path
) -> None:
    llm.configure(reply=replies("Exported answer."))
    await _send(member, "Question to export")
    await expect(assistant(member).last).to_contain_text("Exported answer.")
    await member.get_by_role("button", name="Export", exact=True).click()
    async with member.expect_download() as info:
        await member.get_by_role("menuitem", name="JSON (whole tree)").click()
    download = await info.value
    path = tmp_path / "chat.json"
    await download.save_as(path)
    data = json.loads(path.read_text())
    assert data["format"] == "solo-chat"
    await member.get_by_label("Import chats").set_input_files(str(path))
    imported = member.get_by_role("status").filter(has_text=re.compile(r"^Imported 1 conversation \("))
    await expect(imported).to_be_visible(timeout=20_000)
    links = member.locator(".solo-sidebar a").filter(has_text=data["conversations"][0]["title"])
    await expect(links).to_have_count(2)
    # The outcome belongs to that page: a reload does not show it again.
    await member.reload()
    await expect(links).to_have_count(2)
    await expect(member.get_by_text(re.compile("^Imported "))).to_have_count(0)

    async with member.expect_download() as info:
        await member.get_by_role("button", name="Export all").click()
    archive = tmp_path / "all.zip"
    await (await info.value).save_as(archive)
    index = json.loads(zipfile.ZipFile(archive).read("index.json"))
    assert len(index["conversations"]) == 2

    broken = dict(data["conversations"][0], title="Broken chat", messages="oops")
    mixed = tmp_path / "mixed.json"
    mixed.write_text(json.dumps({**data, "conversations": [broken, data["conversations"][0]]}))
    await member.get_by_label("Import chats").set_input_files(str(mixed))
    outcome = "Imported 1 conversation (2 messages). 1 conversation was not imported (listed below)."
    await expect(member.get_by_role("status").filter(has_text=outcome)).to_be_visible()
    await member.get_by_text("Conversations that were not imported").click()
    await expect(member.get_by_text("“Broken chat”")).to_be_visible()
    await expect(links).to_have_count(3)

    junk = tmp_path / "junk.json"
    junk.write_text("this is not JSON")
    await member.get_by_label("Import chats").set_input_files(str(junk))
    await expect(member.get_by_role("alert").filter(has_text="Nothing was imported")).to_be_visible()
