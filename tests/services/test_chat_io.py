"""Chat export (Markdown, JSON, zip) and import (ours, ChatGPT, LibreChat): round trips, real-world shapes,
all-or-nothing imports of bad files, progress reporting."""

from __future__ import annotations

import copy
import io
import json
import uuid
import zipfile
from datetime import UTC, datetime
from typing import Any

import pytest

from services import chat
from services.chat import ConversationFilters, ConversationTree
from services.context import Ctx
from services.errors import ValidationError
from tests.services.test_chat_support import new_ctx, sql


@pytest.fixture
async def alice(tenant) -> Ctx:  # type: ignore[no-untyped-def]
    return await new_ctx(tenant.id, "alice@example.com")


async def count_rows(ctx: Ctx) -> tuple[int, int, int, int]:
    (row,) = await sql(
        ctx.tenant_id,
        "SELECT (SELECT count(*) FROM conversations), (SELECT count(*) FROM messages),"
        " (SELECT count(*) FROM folders), (SELECT count(*) FROM tags)",
    )
    return row  # type: ignore[return-value]


def shape(tree: ConversationTree) -> list[tuple[Any, ...]]:
    """The tree without ids: each message with its parent's position, in a stable order."""
    position = {m.id: i for i, m in enumerate(tree.messages)}
    return [
        (
            position.get(m.parent_id) if m.parent_id else None,
            m.role,
            m.text,
            m.status,
            m.error_text,
            m.created_at,
            m.content_parts,
            m.provider,
            m.model,
            m.prompt_tokens,
            m.completion_tokens,
            m.ttft_ms,
            m.duration_ms,
        )
        for m in tree.messages
    ]


async def sample_conversation(ctx: Ctx) -> chat.ConversationInfo:
    folder = await chat.create_folder(ctx, "Travel")
    tag = await chat.create_tag(ctx, "planning")
    c = await chat.create_conversation(
        ctx, title="Lisbon in May", provider="openai", model="gpt-test", folder_id=folder.id
    )
    await chat.tag_conversation(ctx, c.id, tag.id)
    await chat.set_pinned(ctx, c.id, True)
    q1 = await chat.add_user_message(ctx, c.id, None, "What should I pack for Lisbon in May?")
    a1 = await chat.save_assistant_message(
        ctx,
        c.id,
        q1.id,
        "Light layers, a rain jacket and **comfortable shoes**.",
        provider="openai",
        model="gpt-test",
        prompt_tokens=20,
        completion_tokens=11,
        ttft_ms=150,
        duration_ms=1200,
        content_parts=[
            {"type": "tool_call", "id": "call_1", "name": "weather", "arguments": '{"city": "Lisbon"}'}
        ],
    )
    q2 = await chat.add_user_message(ctx, c.id, a1.id, "And for the evenings?")
    await chat.save_assistant_message(
        ctx, c.id, q2.id, "A warm swea", status="unfinished", error_text="Stopped by you.", model="gpt-test"
    )
    q2b = await chat.add_user_message(ctx, c.id, a1.id, "Is it rainy at night?")  # an edit: sibling of q2
    await chat.save_assistant_message(
        ctx, c.id, q2b.id, "", status="error", error_text="Rate limited: try again in 20 s.", model="gpt-test"
    )
    await chat.save_assistant_message(ctx, c.id, q2b.id, "Rarely in May.", model="gpt-test")  # regenerated
    await chat.select_sibling(ctx, c.id, q2.id)  # the user looks at the first branch
    return await chat.get_conversation(ctx, c.id)


# Export -----------------------------------------------------------------------------------------------------


async def test_markdown_shows_the_visible_branch(alice) -> None:
    c = await sample_conversation(alice)
    md = await chat.export_markdown(alice, c.id)
    assert md.startswith("# Lisbon in May\n")
    assert "## You" in md and "## Assistant (gpt-test)" in md
    assert "Light layers, a rain jacket and **comfortable shoes**." in md
    assert "And for the evenings?" in md and "A warm swea" in md
    assert "> **Unfinished reply.** Stopped by you." in md
    assert "Is it rainy at night?" not in md and "Rarely in May." not in md  # the other branch


async def test_json_export_import_round_trip_keeps_tree_and_times(alice) -> None:
    c = await sample_conversation(alice)
    doc = await chat.export_json(alice, c.id)
    assert (doc["format"], doc["version"]) == ("solo-chat", 1)
    [exported] = doc["conversations"]
    assert (exported["folder"], exported["tags"], exported["pinned"]) == ("Travel", ["planning"], True)
    assert len(exported["messages"]) == 7

    seen: list[tuple[int, int, int]] = []
    result = await chat.import_conversations(
        alice, chat.json_bytes(doc), progress=lambda p: seen.append((p.conversations, p.skipped, p.percent))
    )
    assert (result.format, result.conversations, result.messages, result.skipped) == ("solo-chat", 1, 7, ())
    assert seen == [(1, 0, 100)]
    [new_id] = result.conversation_ids
    assert new_id != c.id

    before, after = await chat.get_tree(alice, c.id), await chat.get_tree(alice, new_id)
    assert shape(after) == shape(before)
    assert {m.id for m in after.messages}.isdisjoint({m.id for m in before.messages})
    a, b = before.conversation, after.conversation
    assert (b.title, b.provider, b.model, b.pinned, b.archived, b.created_at, b.updated_at) == (
        a.title,
        a.provider,
        a.model,
        a.pinned,
        a.archived,
        a.created_at,
        a.updated_at,
    )
    assert b.folder_id == a.folder_id and b.tag_ids == a.tag_ids  # same names: the existing folder and tag
    # The visible branch is the same one.
    assert [s.message.text for s in after.path()] == [s.message.text for s in before.path()]
    # Exporting the copy gives the same document, ids aside.
    again = (await chat.export_json(alice, new_id))["conversations"][0]

    def without_ids(conv: dict[str, Any]) -> dict[str, Any]:
        conv = copy.deepcopy(conv)
        index = {m["id"]: i for i, m in enumerate(conv["messages"])}
        conv["current_leaf_id"] = index[conv["current_leaf_id"]]
        conv.pop("id")
        for m in conv["messages"]:
            m["parent_id"] = index.get(m["parent_id"])
            m.pop("id")
        return conv

    assert without_ids(again) == without_ids(exported)


async def test_zip_of_everything_and_its_import(alice, tenant, tmp_path) -> None:
    await sample_conversation(alice)
    for i in range(3):
        c = await chat.create_conversation(alice, title=f"Note {i}")
        await chat.add_user_message(alice, c.id, None, f"note number {i}")
    empty = await chat.create_conversation(alice, title="Empty")
    await chat.set_archived(alice, empty.id, True)

    assert await chat.write_archive(alice, tmp_path / "all.zip") == 5
    data = (tmp_path / "all.zip").read_bytes()
    archive = zipfile.ZipFile(io.BytesIO(data))
    index = json.loads(archive.read("index.json"))
    assert index["format"] == "solo-chat-archive" and len(index["conversations"]) == 5
    assert sorted(n for n in archive.namelist() if n.startswith("conversations/")) == sorted(
        e["file"] for e in index["conversations"]
    )
    assert sum(e["messages"] for e in index["conversations"]) == 10

    bob = await new_ctx(tenant.id, "bob@example.com")
    result = await chat.import_conversations(bob, data)
    assert (result.format, result.conversations, result.messages) == ("solo-chat", 5, 10)
    listed = (await chat.list_conversations(bob, ConversationFilters(archived=None))).items
    assert sorted(c.title for c in listed) == ["Empty", "Lisbon in May", "Note 0", "Note 1", "Note 2"]
    assert [c.title for c in listed if c.archived] == ["Empty"]
    assert [f.name for f in await chat.list_folders(bob)] == ["Travel"]  # created for Bob
    assert [t.name for t in await chat.list_tags(bob)] == ["planning"]
    carol = await new_ctx(tenant.id, "carol@example.com")
    assert await chat.write_archive(carol, tmp_path / "empty.zip") == 0  # an empty archive is fine
    assert zipfile.ZipFile(tmp_path / "empty.zip").namelist() == ["index.json"]


# ChatGPT ----------------------------------------------------------------------------------------------------


def chatgpt_node(
    node_id: str,
    parent: str | None,
    children: list[str],
    role: str | None,
    text: str = "",
    at: float | None = None,
    **extra: Any,
) -> dict[str, Any]:
    message = None
    if role is not None:
        message = {
            "id": node_id,
            "author": {"role": role, "name": extra.pop("name", None), "metadata": {}},
            "create_time": at,
            "update_time": None,
            "content": extra.pop("content", {"content_type": "text", "parts": [text]}),
            "status": extra.pop("status", "finished_successfully"),
            "end_turn": True,
            "weight": 1.0,
            "metadata": extra.pop("metadata", {}),
            "recipient": extra.pop("recipient", "all"),
        }
    return {"id": node_id, "message": message, "parent": parent, "children": children}


def chatgpt_export() -> list[dict[str, Any]]:
    t0 = 1714585031.148505
    mapping = {
        "root": chatgpt_node("root", None, ["sys"], None),
        "sys": chatgpt_node(
            "sys", "root", ["u1"], "system", "", None, metadata={"is_visually_hidden_from_conversation": True}
        ),
        "u1": chatgpt_node("u1", "sys", ["a1"], "user", "Plan a 3-day trip to Porto", t0 + 1),
        "a1": chatgpt_node(
            "a1",
            "u1",
            ["u2", "u2b"],
            "assistant",
            "Day 1: Ribeira. Day 2: Gaia cellars. Day 3: Foz.",
            t0 + 2.5,
            metadata={"model_slug": "gpt-4o", "finish_details": {"type": "stop"}},
        ),
        "u2": chatgpt_node("u2", "a1", ["a2"], "user", "Add a day trip", t0 + 30),
        "a2": chatgpt_node(
            "a2",
            "u2",
            [],
            "assistant",
            "Guimarães makes a great day tr",
            t0 + 31,
            status="in_progress",
            metadata={"model_slug": "gpt-4o", "finish_details": {"type": "interrupted"}},
        ),
        "u2b": chatgpt_node(
            "u2b",
            "a1",
            ["a2b"],
            "user",
            "",
            t0 + 60,
            content={
                "content_type": "multimodal_text",
                "parts": [
                    {
                        "content_type": "image_asset_pointer",
                        "asset_pointer": "file-service://file-abc",
                        "width": 800,
                    },
                    "What is this building?",
                ],
            },
        ),
        "a2b": chatgpt_node(
            "a2b",
            "u2b",
            [],
            "assistant",
            "That is the Clérigos Tower.",
            None,
            metadata={"model_slug": "gpt-4o"},
        ),
    }
    second = {
        "hello-root": chatgpt_node("hello-root", None, ["h1"], None),
        "h1": chatgpt_node("h1", "hello-root", ["h2"], "user", "hi", t0 + 500),
        "h2": chatgpt_node("h2", "h1", [], "assistant", "Hello! How can I help?", t0 + 501),
    }
    return [
        {
            "title": "Porto trip",
            "create_time": t0,
            "update_time": t0 + 61,
            "mapping": mapping,
            "moderation_results": [],
            "current_node": "a2b",
            "conversation_id": "d5dc5307-0000-41a0-8b04-4acee626eeb7",
            "default_model_slug": "gpt-4o",
            "is_archived": False,
            "id": "d5dc5307-0000-41a0-8b04-4acee626eeb7",
        },
        {
            "title": "Greeting",
            "create_time": t0 + 499,
            "update_time": t0 + 501,
            "mapping": second,
            "current_node": "h2",
            "is_archived": True,
            "id": "a1111111-0000-41a0-8b04-4acee626eeb7",
        },
    ]


def at(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


async def test_chatgpt_conversations_json(alice) -> None:
    data = json.dumps(chatgpt_export()).encode()
    result = await chat.import_conversations(alice, data)
    assert (result.format, result.conversations, result.messages) == ("chatgpt", 2, 8)
    porto = await chat.get_tree(alice, result.conversation_ids[0])
    t0 = 1714585031.148505
    c = porto.conversation
    assert (c.title, c.provider, c.model, c.archived) == ("Porto trip", "openai", "gpt-4o", False)
    assert (c.created_at, c.updated_at) == (at(t0), at(t0 + 61))
    by_text = {m.text: m for m in porto.messages}
    # The structural root and the hidden system message are gone; the first question is a root.
    assert by_text["Plan a 3-day trip to Porto"].parent_id is None
    assert len(porto.messages) == 6
    day_plan = by_text["Day 1: Ribeira. Day 2: Gaia cellars. Day 3: Foz."]
    assert (day_plan.role, day_plan.model, day_plan.created_at) == ("assistant", "gpt-4o", at(t0 + 2.5))
    assert by_text["Add a day trip"].parent_id == day_plan.id
    assert by_text["What is this building?"].parent_id == day_plan.id  # a sibling branch
    picture = by_text["What is this building?"].content_parts
    assert picture[0]["type"] == "attachment" and picture[0]["asset_pointer"] == "file-service://file-abc"
    assert by_text["Guimarães makes a great day tr"].status == "unfinished"
    # A message without a time sorts right after its parent.
    tower = by_text["That is the Clérigos Tower."]
    assert by_text["What is this building?"].created_at < tower.created_at < at(t0 + 61)
    # current_node is the visible branch.
    assert c.current_leaf_id == tower.id
    path = porto.path()
    assert [s.message.text for s in path][-2:] == ["What is this building?", "That is the Clérigos Tower."]
    assert (path[2].index, path[2].count) == (1, 2)

    greeting = await chat.get_conversation(alice, result.conversation_ids[1])
    assert greeting.archived and greeting.title == "Greeting"

    # The zip ChatGPT sends works too (other files in it are ignored).
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        z.writestr("conversations.json", data)
        z.writestr("user.json", '{"id": "user-123"}')
        z.writestr("chat.html", "<html></html>")
    assert (await chat.import_conversations(alice, buffer.getvalue())).conversations == 2


# LibreChat --------------------------------------------------------------------------------------------------

LIBRECHAT_ROOT = "00000000-0000-0000-0000-000000000000"


def librechat_flat() -> dict[str, Any]:
    conv = "4f0c1b2a-1111-4c6e-9d8e-0a1b2c3d4e5f"
    return {
        "conversationId": conv,
        "endpoint": "openAI",
        "title": "Sourdough starter",
        "exportAt": "10:12:01 GMT+0200 (Central European Summer Time)",
        "branches": True,
        "recursive": False,
        "options": {"model": "gpt-4o-mini", "endpoint": "openAI", "title": "Sourdough starter"},
        "messages": [
            {
                "messageId": "m1",
                "conversationId": conv,
                "parentMessageId": LIBRECHAT_ROOT,
                "sender": "User",
                "isCreatedByUser": True,
                "text": "My starter smells like acetone. Is it dead?",
                "createdAt": "2024-05-28T18:08:55.014Z",
                "error": False,
                "unfinished": False,
                "tokenCount": 12,
            },
            {
                "messageId": "m2",
                "conversationId": conv,
                "parentMessageId": "m1",
                "sender": "GPT-4o mini",
                "isCreatedByUser": False,
                "model": "gpt-4o-mini",
                "text": "No, it is hungry: feed it twice a day.",
                "createdAt": "2024-05-28T18:08:57.390Z",
                "error": False,
                "unfinished": False,
                "tokenCount": 14,
                "promptTokens": 40,
            },
            {
                "messageId": "m3",
                "conversationId": conv,
                "parentMessageId": "m1",
                "sender": "GPT-4o mini",
                "isCreatedByUser": False,
                "model": "gpt-4o-mini",
                "text": "It is not dead. The smell means",
                "createdAt": "2024-05-28T18:09:27.444Z",
                "error": False,
                "unfinished": True,
            },
            {
                "messageId": "m4",
                "conversationId": conv,
                "parentMessageId": "m3",
                "sender": "User",
                "isCreatedByUser": True,
                "text": "",
                "content": [{"type": "text", "text": {"value": "How often should I feed it?"}}],
                "createdAt": "2024-05-28T18:14:07.988Z",
            },
        ],
    }


def librechat_recursive() -> dict[str, Any]:
    return {
        "conversationId": "9a8b7c6d-2222-4c6e-9d8e-0a1b2c3d4e5f",
        "endpoint": "anthropic",
        "title": "Haiku",
        "recursive": True,
        "options": {"model": "claude-3-5-haiku"},
        "messages": [
            {
                "messageId": "r1",
                "parentMessageId": LIBRECHAT_ROOT,
                "sender": "User",
                "isCreatedByUser": True,
                "text": "Write a haiku about rain",
                "createdAt": "2024-06-01T09:00:00.000Z",
                "children": [
                    {
                        "messageId": "r2",
                        "parentMessageId": "r1",
                        "sender": "Claude",
                        "isCreatedByUser": False,
                        "model": "claude-3-5-haiku",
                        "text": "Soft rain on the roof",
                        "createdAt": "2024-06-01T09:00:02.000Z",
                        "children": [
                            {
                                "messageId": "r3",
                                "parentMessageId": "r2",
                                "sender": "User",
                                "isCreatedByUser": True,
                                "text": "Another one",
                                "children": [],  # no createdAt: LibreChat's tree export omits it at times
                            }
                        ],
                    },
                    {
                        "messageId": "r2b",
                        "parentMessageId": "r1",
                        "sender": "Claude",
                        "isCreatedByUser": False,
                        "text": "",
                        "error": True,
                        "createdAt": "2024-06-01T09:00:05.000Z",
                        "children": [],
                    },
                    {
                        "messageId": "r2c",
                        "parentMessageId": "r1",
                        "sender": "Claude",
                        "isCreatedByUser": False,
                        "text": '{"type":"rate_limit","info":"slow down"}',
                        "error": True,
                        "createdAt": "2024-06-01T09:00:06.000Z",
                        "children": [],
                    },
                ],
            }
        ],
    }


async def test_librechat_flat_export(alice) -> None:
    result = await chat.import_conversations(alice, json.dumps(librechat_flat()))
    assert (result.format, result.conversations, result.messages) == ("librechat", 1, 4)
    tree = await chat.get_tree(alice, result.conversation_ids[0])
    c = tree.conversation
    assert (c.title, c.provider, c.model) == ("Sourdough starter", "openAI", "gpt-4o-mini")
    assert c.created_at == datetime(2024, 5, 28, 18, 8, 55, 14000, tzinfo=UTC)
    assert c.updated_at == datetime(2024, 5, 28, 18, 14, 7, 988000, tzinfo=UTC)
    m = {x.text: x for x in tree.messages}
    question = m["My starter smells like acetone. Is it dead?"]
    assert question.parent_id is None and question.role == "user"
    fed = m["No, it is hungry: feed it twice a day."]
    assert (fed.role, fed.parent_id, fed.prompt_tokens, fed.completion_tokens) == (
        "assistant",
        question.id,
        40,
        14,
    )
    cut = m["It is not dead. The smell means"]
    assert (cut.status, cut.parent_id) == ("unfinished", question.id)
    follow_up = m["How often should I feed it?"]  # text from the content parts
    assert follow_up.parent_id == cut.id and follow_up.role == "user"
    assert [s.message.id for s in tree.path()] == [question.id, cut.id, follow_up.id]


async def test_librechat_recursive_export(alice) -> None:
    result = await chat.import_conversations(alice, json.dumps(librechat_recursive()).encode())
    # The empty failed reply is left out (nothing to show), the one with text is kept as an error.
    assert (result.format, result.messages) == ("librechat", 4)
    tree = await chat.get_tree(alice, result.conversation_ids[0])
    m = {x.text: x for x in tree.messages}
    root, poem, again = m["Write a haiku about rain"], m["Soft rain on the roof"], m["Another one"]
    assert poem.parent_id == root.id and again.parent_id == poem.id
    assert again.created_at > poem.created_at  # a missing time inherits from its parent, just after it
    failed = m['{"type":"rate_limit","info":"slow down"}']
    assert (failed.status, failed.parent_id) == ("error", root.id)
    assert tree.conversation.model == "claude-3-5-haiku" and tree.conversation.provider == "anthropic"


# Bad files --------------------------------------------------------------------------------------------------


def broken_files() -> list[tuple[str, bytes, str]]:
    ok = chatgpt_export()
    partial = chatgpt_export()[1:]
    del partial[0]["mapping"]["h1"]  # h2 now answers a message that is not in the file
    loop = chatgpt_export()[1:]
    loop[0]["mapping"]["hello-root"]["parent"] = "h2"
    ours = {"format": "solo-chat", "version": 1, "conversations": [{"title": "x", "created_at": "2024-01-01T00:00:00+00:00",
            "messages": [{"id": "a", "parent_id": None, "role": "user", "text": "hi", "created_at": "2024-01-01T00:00:00+00:00"},
                         {"id": "b", "parent_id": "a", "role": "wizard", "text": "?", "created_at": "2024-01-01T00:00:01+00:00"}]}]}  # fmt: skip
    zipped = io.BytesIO()
    with zipfile.ZipFile(zipped, "w") as z:
        z.writestr("conversations.json", json.dumps(ok))
    whole = json.dumps(ok[:1]).encode()
    return [
        ("truncated JSON", whole[: len(whole) // 2], "not valid JSON"),
        ("not JSON", b"\xff\xfe not text", "not UTF-8"),
        ("unknown JSON", b'{"hello": "world"}', "not a conversation export we can read"),
        ("empty list", b"[]", "no conversations"),
        ("partial ChatGPT", json.dumps(partial).encode(), r"conversation 1 \(“Greeting”\).*not in the file"),
        ("loop", json.dumps(loop).encode(), "loop"),
        ("bad time", json.dumps([{**ok[0], "create_time": "yesterday"}]).encode(), "not a valid date"),
        (
            "newer version",
            json.dumps({"format": "solo-chat", "version": 2, "conversations": []}).encode(),
            "version 2",
        ),
        ("bad role", json.dumps(ours).encode(), "unknown role 'wizard'"),
        ("damaged zip", zipped.getvalue()[:-40], "zip file"),
        (
            "LibreChat without ids",
            json.dumps(
                {"conversationId": "x", "messages": [{"text": "hi", "isCreatedByUser": True}]}
            ).encode(),
            "no “messageId”",
        ),
        (
            "LibreChat missing parent",
            json.dumps(
                {
                    "conversationId": "x",
                    "messages": [{"messageId": "a", "parentMessageId": "zzz", "text": "hi"}],
                }
            ).encode(),
            "not in the file",
        ),
    ]


async def test_bad_files_import_nothing(alice) -> None:
    await chat.create_folder(alice, "Existing")
    before = await count_rows(alice)
    for name, data, message in broken_files():
        with pytest.raises(ValidationError, match=message) as err:
            await chat.import_conversations(alice, data)
        assert str(err.value).startswith("Nothing was imported: "), name
        assert await count_rows(alice) == before, name


async def test_imported_conversations_are_the_importers_own(alice, tenant) -> None:
    bob = await new_ctx(tenant.id, "bob@example.com")
    result = await chat.import_conversations(alice, json.dumps(librechat_flat()))
    assert (await chat.list_conversations(bob)).items == ()
    assert await chat.search(bob, "sourdough") == []
    assert [h.conversation_id for h in await chat.search(alice, "sourdough")] == list(result.conversation_ids)
    assert await sql(alice.tenant_id, "SELECT count(*) FROM usage_records") == [(0,)]  # history is not usage
    assert uuid.UUID(str(result.conversation_ids[0]))


def test_import_messages_count_in_the_singular_and_the_plural() -> None:
    from state.chat_io import progress_text, result_text

    def result(conversations: int, messages: int, skipped: int = 0) -> chat.ImportResult:
        skips = tuple(chat.Skipped(f"t{i}", f"“t{i}”: broken") for i in range(skipped))
        return chat.ImportResult("solo-chat", conversations, messages, (), skips)

    assert result_text(result(1, 1)) == "Imported 1 conversation (1 message)."
    assert result_text(result(2, 5)) == "Imported 2 conversations (5 messages)."
    assert result_text(result(1, 2, skipped=1)) == (
        "Imported 1 conversation (2 messages). 1 conversation was not imported (listed below)."
    )
    assert result_text(result(3, 9, skipped=2)).endswith("2 conversations were not imported (listed below).")
    assert result_text(result(0, 0, skipped=2)).startswith("No conversation was imported.")
    progress = chat.ImportProgress(conversations=1, skipped=0, bytes_read=50, bytes_total=100)
    assert progress_text("a.json", progress) == "Importing a.json: 50% read, 1 conversation imported…"
    progress = chat.ImportProgress(conversations=2, skipped=1, bytes_read=100, bytes_total=100)
    assert (
        progress_text("a.json", progress)
        == "Importing a.json: 100% read, 2 conversations imported, 1 skipped…"
    )
