"""The Memory page's plain logic: where a memory came from, how often it was used, the start of its text in
the buttons' names, the row the page shows and the notice after forgetting everything."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from services.memory.store import MemoryInfo
from state.memory import category_options, first_words, forgot_text, row_of, source_label, used_text

WHEN = datetime(2026, 12, 3, 9, 30, tzinfo=UTC)


def _memory(**changes: object) -> MemoryInfo:
    values: dict[str, object] = {
        "id": uuid.uuid4(),
        "text": "I coach first-time founders in Lisbon on Tuesdays.",
        "key": "",
        "category": "business",
        "source": "manual",
        "pinned": False,
        "conversation_id": None,
        "message_id": None,
        "tokens": 10,
        "times_used": 0,
        "created_at": WHEN,
        "updated_at": WHEN,
        "last_used_at": None,
    } | changes
    return MemoryInfo(**values)  # type: ignore[arg-type]


def test_source_labels() -> None:
    assert source_label("manual") == "Added by you"
    assert source_label("explicit") == "Said in chat"
    assert source_label("extracted") == "Learnt from chat"
    assert source_label("imported") == "Imported"
    assert source_label("some_new") == "Some new"


def test_used_text() -> None:
    assert used_text(0, None) == "Never used"
    assert used_text(0, WHEN) == "Never used"
    assert used_text(1, WHEN) == "Last used 2026-12-03 · used once"
    assert used_text(7, WHEN) == "Last used 2026-12-03 · used 7 times"


def test_first_words_names_the_buttons() -> None:
    assert first_words("I coach first-time founders in Lisbon.") == "I coach first-time founders in…"
    assert first_words("Call me Sam.") == "Call me Sam"
    assert first_words("  Short   one.  ", 2) == "Short one"


def test_forgot_text() -> None:
    assert forgot_text(0) == "There was nothing to forget."
    assert forgot_text(1) == "Forgot 1 memory."
    assert forgot_text(3) == "Forgot 3 memories."


def test_row_of() -> None:
    conversation = uuid.uuid4()
    m = _memory(
        pinned=True, source="extracted", conversation_id=conversation, times_used=2, last_used_at=WHEN
    )
    row = row_of(m)
    assert row["id"] == str(m.id)
    assert row["category_label"] == "Business"
    assert row["source"] == "Learnt from chat"
    assert row["pinned"] == "yes"
    assert row["created"] == "2026-12-03"
    assert row["used"] == "Last used 2026-12-03 · used 2 times"
    assert row["conversation"] == f"/c/{conversation}"
    assert row["short"] == "I coach first-time founders in…"
    plain = row_of(_memory())
    assert (plain["pinned"], plain["conversation"], plain["used"]) == ("", "", "Never used")
    assert all(isinstance(v, str) for v in plain.values())  # a list var of plain strings


def test_every_category_has_a_label() -> None:
    labels = {o["value"]: o["label"] for o in category_options()}
    assert labels == {
        "profile": "Profile",
        "preference": "Preference",
        "goal": "Goal",
        "business": "Business",
        "other": "Other",
    }
