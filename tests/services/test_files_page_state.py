"""The Files page's plain logic: sizes as people read them, the upload rows driven by the browser script's
events, the preview's page titles and its window into a large file, the status line of a processing file."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from services.files.records import FileInfo
from state.files import (
    PREVIEW_CHARS,
    apply_upload_events,
    human_bytes,
    preview_note,
    preview_rows,
    status_text,
)


@dataclass
class Section:
    page: int | None
    heading: str
    text: str


FILE = FileInfo(
    id=uuid.uuid4(),
    user_id=uuid.uuid4(),
    name="report.pdf",
    kind="pdf",
    label="PDF",
    mime="application/pdf",
    size_bytes=1000,
    status="processing",
    stage="extracting",
    progress=40,
    error_text="",
    pages=3,
    chunk_count=0,
    embedded=False,
    created_at=datetime(2026, 12, 2, tzinfo=UTC),
    mine=True,
)


def test_sizes_read_like_the_quota() -> None:
    assert human_bytes(0) == "0 B"
    assert human_bytes(1023) == "1023 B"
    assert human_bytes(1024) == "1 KB"
    assert human_bytes(int(1.25 * 1024 * 1024)) == "1.2 MB"
    assert human_bytes(640 * 1024) == "640 KB"
    assert human_bytes(1024**3) == "1 GB"
    assert human_bytes(20 * 1024**3) == "20 GB"


def test_status_lines() -> None:
    assert status_text(FILE) == "Processing: extracting 40%"
    assert status_text(replace(FILE, stage="", progress=0)) == "Processing"
    assert status_text(replace(FILE, status="ready")) == "Ready"
    assert status_text(replace(FILE, status="failed")) == "Failed"


def test_upload_rows_follow_the_script() -> None:
    rows, finished, notice = apply_upload_events(
        [],
        [
            {"type": "start", "key": "a", "name": "notes.txt"},
            {"type": "start", "key": "b", "name": "setup.pdf"},
            {"type": "progress", "key": "a", "pct": 42.7},
            {"type": "error", "key": "b", "error": "This is a program, not a document."},
        ],
        {"a"},
    )
    assert not finished and notice == ""
    assert [(r["name"], r["state"], r["progress"], r["message"]) for r in rows] == [
        ("notes.txt", "uploading", "42%", ""),
        ("setup.pdf", "refused", "", "This is a program, not a document."),
    ]
    # Done: the row leaves (the server's row replaces it); a duplicate says which file it already is.
    rows, finished, notice = apply_upload_events(
        rows,
        [{"type": "done", "key": "a", "name": "notes.txt", "new": False, "file": {"name": "old notes.txt"}}],
        set(),
    )
    assert finished
    assert notice == "notes.txt was already stored as “old notes.txt”."
    assert [r["state"] for r in rows] == ["refused"]  # kept until dismissed


def test_uploads_the_page_lost_are_dropped() -> None:
    """After a reload the script has no upload in flight: rows still shown as uploading go, refusals stay."""
    shown = [
        {"key": "a", "name": "a.txt", "state": "uploading", "progress": "10%", "message": ""},
        {"key": "b", "name": "b.pdf", "state": "refused", "message": "Too large.", "progress": ""},
    ]
    rows, finished, _ = apply_upload_events(shown, [], set())
    assert [r["key"] for r in rows] == ["b"] and not finished
    rows, _, _ = apply_upload_events(shown, ["junk", {"type": "unknown"}], {"a"})
    assert [r["key"] for r in rows] == ["a", "b"]


def test_preview_titles_pages_once() -> None:
    sections = [
        Section(1, "Intro", "one"),
        Section(1, "More", "one more"),
        Section(2, "", "two"),
        Section(3, "", "three"),
    ]
    rows = preview_rows(sections, 2)
    assert [r["page_title"] for r in rows] == ["Page 1", "", "Page 2", "Page 3"]
    assert [r["anchor"] for r in rows] == ["preview-page-1", "", "preview-page-2", "preview-page-3"]
    assert preview_note(replace(FILE, status="ready"), sections, rows) == ""
    text_only = preview_rows([Section(None, "Notes", "plain text")], None)
    assert text_only == [
        {"anchor": "", "page": "", "page_title": "", "heading": "Notes", "text": "plain text"}
    ]


def test_a_large_file_previews_from_the_page_asked() -> None:
    page_text = "x" * (PREVIEW_CHARS // 4)
    sections = [Section(n, "", page_text) for n in range(1, 21)]
    rows = preview_rows(sections, 12)
    assert rows[0]["page_title"] == "Page 12"
    assert len(rows) == 4  # the budget
    note = preview_note(replace(FILE, status="ready", pages=20), sections, rows)
    assert note == "The preview shows pages 12–15 of 20: download the file to read the rest."


def test_preview_notes_without_text() -> None:
    assert "still being processed" in preview_note(FILE, [], [])
    failed = replace(FILE, status="failed", error_text="The file is an encrypted PDF.")
    assert preview_note(failed, [], []) == "This file could not be read: The file is an encrypted PDF."
    assert preview_note(replace(FILE, status="ready"), [], []) == "No text was found."


def test_a_message_that_was_not_stored_gives_its_chips_back() -> None:
    from state.attachments import put_back

    sent = [{"tmp": "a", "name": "a.pdf"}, {"tmp": "b", "name": "b.png"}]
    ids = [uuid.uuid4(), uuid.uuid4()]
    added_since = [{"tmp": "c", "name": "c.txt"}]
    pending, stored = put_back(added_since, {"c": "id-c"}, sent, ids)
    assert [c["name"] for c in pending] == ["a.pdf", "b.png", "c.txt"]
    assert stored == {"c": "id-c", "a": str(ids[0]), "b": str(ids[1])}
    again, _ = put_back(pending, stored, sent, ids)  # given back twice: not doubled
    assert [c["name"] for c in again] == ["a.pdf", "b.png", "c.txt"]
