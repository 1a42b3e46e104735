"""Streaming import: bad conversations are skipped with reasons, memory stays bounded, file problems are clear."""

from __future__ import annotations

import asyncio
import io
import json
import time
import tracemalloc
import zipfile
from typing import Any

import pytest

from services import chat
from services.chat import transfers
from services.context import Ctx
from services.errors import ValidationError
from tests.services.test_chat_io import chatgpt_export, count_rows, librechat_flat
from tests.services.test_chat_support import new_ctx


@pytest.fixture
async def alice(tenant) -> Ctx:  # type: ignore[no-untyped-def]
    return await new_ctx(tenant.id, "alice@example.com")


def solo_conversation(i: int, text: str = "hello") -> dict[str, Any]:
    at = f"2024-03-01T10:{i // 60 % 60:02d}:{i % 60:02d}+00:00"
    return {
        "title": f"Chat {i}",
        "created_at": at,
        "messages": [
            {"id": "q", "parent_id": None, "role": "user", "text": f"{text} {i}", "created_at": at},
            {"id": "a", "parent_id": "q", "role": "assistant", "text": f"answer {i}", "created_at": at},
        ],
    }


def solo_file(conversations: list[Any]) -> bytes:
    return json.dumps({"format": "solo-chat", "version": 1, "conversations": conversations}).encode()


async def test_one_bad_conversation_no_longer_rejects_the_file(alice) -> None:
    good, partial, loop = chatgpt_export()[0], chatgpt_export()[1], chatgpt_export()[1]
    del partial["mapping"]["h1"]  # h2 answers a message that is not in the file
    partial["title"] = "Broken one"
    loop["mapping"]["hello-root"]["parent"] = "h2"
    loop["title"] = "Loopy"
    result = await chat.import_conversations(alice, json.dumps([partial, good, loop, {"x": 1}]))
    assert (result.format, result.conversations, result.messages) == ("chatgpt", 1, 6)
    assert [s.title for s in result.skipped] == ["Broken one", "Loopy", "Conversation 4"]
    reasons = [s.reason for s in result.skipped]
    assert "conversation 1 (“Broken one”)" in reasons[0] and "not in the file" in reasons[0]
    assert "loop" in reasons[1]
    assert "not a conversation export we can read" in reasons[2]
    [listed] = (await chat.list_conversations(alice)).items
    assert listed.title == "Porto trip"


async def test_key_order_of_our_format_does_not_matter(alice) -> None:
    doc = {"conversations": [solo_conversation(1)], "exported_at": "x", "format": "solo-chat", "version": 1}
    result = await chat.import_conversations(alice, json.dumps(doc))
    assert (result.format, result.conversations) == ("solo-chat", 1)
    newer = {"conversations": [solo_conversation(1)], "format": "solo-chat", "version": 9}
    with pytest.raises(ValidationError, match="version 9"):
        await chat.import_conversations(alice, json.dumps(newer))


def bomb(size: int) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as z:
        with z.open("conversations.json", "w", force_zip64=True) as member:
            chunk = b" " * 2**20
            for _ in range(size // len(chunk)):
                member.write(chunk)
    return buffer.getvalue()


def hostile_files() -> list[tuple[str, bytes, str]]:
    deep = b"[" * 20_000 + b"]" * 20_000
    huge_int = (
        b'[{"conversationId": "x", "messages": [{"messageId": "a", "text": "hi", "tokenCount": ' + b"9" * 5000
    )
    huge_int += b"}]}]"
    wrong_types = solo_file([{**solo_conversation(1), "messages": "lots"}])
    bad_date = solo_file([{**solo_conversation(1), "created_at": "31/02/2024"}])
    big_tokens = solo_conversation(1)
    big_tokens["messages"][1]["prompt_tokens"] = 2**40
    deep_parts = solo_conversation(1)
    nested: Any = {}
    for _ in range(100):
        nested = {"x": nested}
    deep_parts["messages"][0]["content_parts"] = [nested]
    return [
        ("nesting", deep, "nested more than 10000 levels"),
        ("huge integer", huge_int, "integer overflow"),
        ("huge float", b'[{"conversationId": "x", "createdAt": 1e400, "messages": []}]', "not valid JSON"),
        ("wrong types", wrong_types, "no list of “messages”"),
        ("bad date", bad_date, "not a valid date"),
        ("integer too big for the database", solo_file([big_tokens]), "whole number from 0 to 2147483647"),
        ("content nested too deeply", solo_file([deep_parts]), "nested more than 32 levels"),
        ("not JSON", b"hello there", "not valid JSON"),
        ("zip bomb", bomb(1025 * 2**20), "expands to more than 1024 MB"),
    ]


async def test_hostile_files_give_a_clear_message_quickly(alice) -> None:
    before = await count_rows(alice)
    for name, data, message in hostile_files():
        started = time.monotonic()
        with pytest.raises(ValidationError, match=message) as err:
            await chat.import_conversations(alice, data)
        assert str(err.value).startswith("Nothing was imported: "), name
        assert time.monotonic() - started < 20, name
        assert await count_rows(alice) == before, name


async def test_a_cut_short_file_keeps_what_came_before(alice) -> None:
    data = solo_file([solo_conversation(i) for i in range(1, 6)])
    cut = data[: data.index(b'"Chat 4"')]
    result = await chat.import_conversations(alice, cut)
    assert result.conversations == 3
    assert result.skipped[-1].title == "the rest of the file"
    assert "not valid JSON after conversation 3" in result.skipped[-1].reason
    garbage = await chat.import_conversations(alice, solo_file([solo_conversation(9)])[:-1] + b"]}")
    assert garbage.conversations == 1 and "not valid JSON after conversation 1" in garbage.skipped[-1].reason


async def test_an_oversized_conversation_is_skipped_without_building_it(alice) -> None:
    big = "x" * (2**20)
    huge = {
        "conversationId": "h",
        "title": "Huge",
        "messages": [{"messageId": str(i), "text": big} for i in range(40)],
    }
    small = librechat_flat()
    result = await chat.import_conversations(alice, json.dumps([small, huge, small]))
    assert result.conversations == 2
    [skipped] = result.skipped
    assert skipped.title == "Conversation 2" and "larger than 32 MB" in skipped.reason
    with pytest.raises(ValidationError, match="larger than 32 MB"):  # a single-conversation file
        await chat.import_conversations(alice, json.dumps(huge))


async def test_zip_with_a_bad_member_imports_the_others(alice, tmp_path) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        z.writestr("conversations/a.json", solo_file([solo_conversation(1)]))
        z.writestr("conversations/b.json", b"{not json")
        z.writestr("conversations/c.json", json.dumps(librechat_flat()))
        z.writestr("index.json", b"{}")
    path = tmp_path / "mixed.zip"
    path.write_bytes(buffer.getvalue())
    result = await chat.import_file(alice, path)
    assert (result.format, result.conversations) == ("librechat+solo-chat", 2)
    [skipped] = result.skipped
    assert skipped.title == "b.json" and "not valid JSON" in skipped.reason


async def test_memory_stays_bounded_and_the_event_loop_free(alice, tmp_path) -> None:
    path = tmp_path / "big.json"
    filler = "lorem ipsum dolor sit amet " * 120  # ~3 KB per message
    with path.open("w") as f:
        f.write('{"format": "solo-chat", "version": 1, "conversations": [')
        for i in range(2000):
            f.write(("," if i else "") + json.dumps(solo_conversation(i, filler)))
        f.write("]}")
    size = path.stat().st_size
    assert size > 6 * 2**20
    ticks = 0
    stop = asyncio.Event()

    async def heartbeat() -> None:  # counts how often the event loop gets to run during the import
        nonlocal ticks
        while not stop.is_set():
            ticks += 1
            await asyncio.sleep(0.01)

    beat = asyncio.create_task(heartbeat())
    seen: list[int] = []
    tracemalloc.start()
    try:
        started = time.monotonic()
        result = await chat.import_file(alice, path, progress=lambda p: seen.append(p.percent))  # type: ignore[func-returns-value]
        elapsed = time.monotonic() - started
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
        stop.set()
        await beat
    assert (result.conversations, result.messages, result.skipped) == (2000, 4000, ())
    assert peak < size / 4, f"peak {peak / 2**20:.1f} MB for a {size / 2**20:.1f} MB file"
    assert seen == sorted(seen) and seen[-1] == 100 and len(seen) == 20
    assert ticks > elapsed * 100 / 4  # the loop kept running (a blocked loop would barely tick)


def test_staged_uploads_are_bound_to_their_user(tmp_path, monkeypatch, alice) -> None:
    import uuid

    monkeypatch.setenv("SOLO_DATA_DIR", str(tmp_path))
    bob = Ctx(tenant_id=alice.tenant_id, user_id=uuid.uuid4(), role="member")
    token, path = transfers.new_upload(alice)
    path.write_bytes(b"[]")
    for who, tok in ((bob, token), (alice, "../" + token), (alice, "x" * 40)):
        with pytest.raises(ValidationError, match="not found"):
            transfers.claim_upload(who, tok)
    claimed = transfers.claim_upload(alice, token)
    assert claimed.read_bytes() == b"[]"
    with pytest.raises(ValidationError, match="not found"):
        transfers.claim_upload(alice, token)  # single use
    transfers.discard(claimed)
    assert not claimed.exists()

    token, path = transfers.new_download(alice, "all chats.zip")
    path.write_bytes(b"zip")
    assert path.name == "all-chats.zip"
    assert transfers.claim_download(bob, token) is None
    got = transfers.claim_download(alice, token)
    assert got is not None and got.read_bytes() == b"zip"
    assert transfers.claim_download(alice, token) is None  # single use
    transfers.discard(got)
    assert not got.parent.exists()

    waiting = [transfers.new_upload(alice) for _ in range(transfers.MAX_STAGED)]
    for _, staged in waiting:
        staged.write_bytes(b"old")
    with pytest.raises(ValidationError, match="uploads waiting"):
        transfers.new_upload(alice)  # nobody fills the disk with staged files
    transfers.new_upload(bob)  # others are not affected
    token = waiting[0][0]
    assert transfers.sweep(now=time.time() + transfers.UPLOAD_TTL + 1) == transfers.MAX_STAGED
    with pytest.raises(ValidationError, match="expired"):
        transfers.claim_upload(alice, token)


async def test_export_all_is_written_in_batches_with_bounded_memory(alice, tmp_path) -> None:
    filler = "lorem ipsum dolor sit amet " * 500  # ~13 KB per conversation
    await chat.import_conversations(alice, solo_file([solo_conversation(i, filler) for i in range(800)]))
    path = tmp_path / "all.zip"
    await chat.write_archive(alice, tmp_path / "warm-up.zip")  # first-use caches (SQL compilation) aside
    tracemalloc.start()
    try:
        assert await chat.write_archive(alice, path) == 800
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    with zipfile.ZipFile(path) as archive:
        members = [i for i in archive.infolist() if i.filename.startswith("conversations/")]
        unpacked = sum(i.file_size for i in members)
        assert len(members) == 800 and len(json.loads(archive.read("index.json"))["conversations"]) == 800
    assert unpacked > 9 * 2**20
    # all of it at once would take several times the JSON's size
    assert peak < unpacked / 2, f"peak {peak / 2**20:.1f} MB for {unpacked / 2**20:.1f} MB of JSON"
