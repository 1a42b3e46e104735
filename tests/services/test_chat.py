"""Chat persistence: conversations, the message tree and its branches, replies and usage, the sidebar, folders
and tags, and isolation between users and tenants (through the services and with raw SQL)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import event, text
from sqlalchemy.exc import IntegrityError, ProgrammingError

from services import chat
from services.chat import ConversationFilters, ConversationInfo, branch_path, history_for_model
from services.chat.conversations import group_by_day
from services.context import Ctx
from services.db import get_engine, tenant_session
from services.errors import NotFound, PermissionDenied, ValidationError
from tests.services.test_chat_support import new_ctx, sql

CHAT_TABLES = ("folders", "conversations", "messages", "tags", "conversation_tags", "usage_records")


@pytest.fixture
async def alice(tenant) -> Ctx:  # type: ignore[no-untyped-def]
    return await new_ctx(tenant.id, "alice@example.com")


@pytest.fixture
async def bob(tenant) -> Ctx:  # type: ignore[no-untyped-def]
    """Another member of Alice's tenant."""
    return await new_ctx(tenant.id, "bob@example.com")


@pytest.fixture
async def eve(other_tenant) -> Ctx:  # type: ignore[no-untyped-def]
    """An owner in another tenant."""
    return await new_ctx(other_tenant.id, "eve@example.com", role="owner")


@contextmanager
def statements() -> Iterator[list[str]]:
    """The SQL statements the app engine sends while the block runs."""
    seen: list[str] = []

    def listener(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
        seen.append(" ".join(statement.split()))

    engine = get_engine().sync_engine
    event.listen(engine, "before_cursor_execute", listener)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", listener)


async def exchange(
    ctx: Ctx, conversation_id: uuid.UUID, parent: uuid.UUID | None, question: str, answer: str
):  # type: ignore[no-untyped-def]
    user = await chat.add_user_message(ctx, conversation_id, parent, question)
    reply = await chat.save_assistant_message(
        ctx,
        conversation_id,
        user.id,
        answer,
        provider="openai",
        model="gpt-test",
        prompt_tokens=5,
        completion_tokens=7,
    )
    return user, reply


# Conversations ---------------------------------------------------------------------------------------------


async def test_conversation_lifecycle(alice) -> None:
    c = await chat.create_conversation(alice, provider="openai", model="gpt-4o-mini")
    assert (c.title, c.provider, c.model, c.pinned, c.archived, c.current_leaf_id) == (
        "New chat",
        "openai",
        "gpt-4o-mini",
        False,
        False,
        None,
    )
    assert await chat.get_conversation(alice, c.id) == c

    renamed = await chat.rename_conversation(alice, c.id, "  Trip   to Lisbon ")
    assert (
        renamed.title == "Trip to Lisbon" and renamed.updated_at == c.updated_at
    )  # renaming is not activity
    with pytest.raises(ValidationError, match="needs a title"):
        await chat.rename_conversation(alice, c.id, "   ")
    with pytest.raises(ValidationError, match="too long"):
        await chat.rename_conversation(alice, c.id, "x" * 301)

    generated = await chat.set_title(alice, c.id, '"Packing list for Lisbon"\n')
    assert generated.title == "Packing list for Lisbon"
    assert len((await chat.set_title(alice, c.id, "word " * 100)).title) == 300

    assert (await chat.set_pinned(alice, c.id, True)).pinned is True
    assert (await chat.set_archived(alice, c.id, True)).archived is True
    changed = await chat.set_model(alice, c.id, "anthropic", "claude-test")
    assert (changed.provider, changed.model) == ("anthropic", "claude-test")
    assert (await chat.get_conversation(alice, c.id)).model == "claude-test"  # remembered

    await chat.delete_conversation(alice, c.id)
    with pytest.raises(NotFound, match="does not exist"):
        await chat.get_conversation(alice, c.id)
    with pytest.raises(NotFound):
        await chat.delete_conversation(alice, c.id)


def test_fallback_title() -> None:
    assert (
        chat.fallback_title("  How do I   **activate** a venv?\n\nIt fails")
        == "How do I activate a venv? It fails"
    )
    assert chat.fallback_title("") == chat.fallback_title("```\n```") == "New chat"
    long = chat.fallback_title("one two three four five six seven eight nine ten")
    assert long == "one two three four five six seven eight…"
    assert len(chat.fallback_title("Supercalifragilistic " * 10)) <= 60


async def test_a_role_without_workspace_use_is_refused(alice) -> None:
    stranger = Ctx(tenant_id=alice.tenant_id, user_id=alice.user_id, role="guest")
    with pytest.raises(PermissionDenied):
        await chat.create_conversation(stranger)
    with pytest.raises(PermissionDenied):
        await chat.list_conversations(stranger)


# The message tree ------------------------------------------------------------------------------------------


async def test_tree_branches_and_sibling_navigation(alice) -> None:
    c = await chat.create_conversation(alice)
    q1, a1 = await exchange(alice, c.id, None, "What is RLS?", "Row-level security.")
    q2, a2 = await exchange(alice, c.id, a1.id, "In Postgres?", "CREATE POLICY ...")

    # Edit the second question: a sibling of q2 with the same parent; the old branch stays.
    q2b, a2b = await exchange(alice, c.id, a1.id, "In MySQL?", "It has no RLS.")
    # Regenerate the last reply twice: siblings of a2b.
    a2c = await chat.save_assistant_message(alice, c.id, q2b.id, "MySQL has no row-level security.")
    a2d = await chat.save_assistant_message(alice, c.id, q2b.id, "Not built in.")

    tree = await chat.get_tree(alice, c.id)
    assert len(tree.messages) == 8 and tree.conversation.current_leaf_id == a2d.id
    path = tree.path()
    assert [s.message.id for s in path] == [q1.id, a1.id, q2b.id, a2d.id]
    assert [(s.index, s.count) for s in path] == [(0, 1), (0, 1), (1, 2), (2, 3)]
    assert path[2].sibling_ids == (q2.id, q2b.id) and path[2].previous_id == q2.id and path[2].next_id is None
    assert path[3].sibling_ids == (a2b.id, a2c.id, a2d.id)

    # `< 1/2`: back to the first version of the question; its branch shows its newest reply.
    leaf = await chat.select_sibling(alice, c.id, q2.id)
    assert leaf == a2.id
    tree = await chat.get_tree(alice, c.id)
    assert [s.message.text for s in tree.path()] == [
        "What is RLS?",
        "Row-level security.",
        "In Postgres?",
        "CREATE POLICY ...",
    ]
    assert tree.conversation.current_leaf_id == a2.id
    # Switching branches is not activity.
    assert tree.conversation.updated_at == a2d.created_at

    # A regenerated reply in the middle: select the 2nd of three replies.
    assert await chat.select_sibling(alice, c.id, a2c.id) == a2c.id
    path = (await chat.get_tree(alice, c.id)).path()
    assert (path[-1].message.id, path[-1].index, path[-1].count) == (a2c.id, 1, 3)

    # The model sees the visible branch only, in order.
    history = history_for_model(list(tree.messages), a2.id)
    assert [(m.role, m.content) for m in history] == [
        ("user", "What is RLS?"),
        ("assistant", "Row-level security."),
        ("user", "In Postgres?"),
        ("assistant", "CREATE POLICY ..."),
    ]
    # Pure helper: an unknown leaf shows the newest branch.
    assert branch_path(list(tree.messages), uuid.uuid4())[-1].message.id == a2d.id
    assert branch_path([], None) == []

    with pytest.raises(NotFound, match="not part of this conversation"):
        await chat.select_sibling(alice, c.id, uuid.uuid4())


async def test_editing_the_first_message_makes_a_second_root(alice) -> None:
    c = await chat.create_conversation(alice)
    first, _ = await exchange(alice, c.id, None, "Hi", "Hello!")
    edited, reply = await exchange(alice, c.id, None, "Hi there", "Hello again!")
    path = (await chat.get_tree(alice, c.id)).path()
    assert [s.message.id for s in path] == [edited.id, reply.id]
    assert (path[0].index, path[0].count, path[0].sibling_ids) == (1, 2, (first.id, edited.id))


async def test_message_validation_writes_nothing(alice) -> None:
    c = await chat.create_conversation(alice)
    other = await chat.create_conversation(alice)
    foreign, _ = await exchange(alice, other.id, None, "Elsewhere", "Yes")
    with pytest.raises(ValidationError, match="empty"):
        await chat.add_user_message(alice, c.id, None, " \n\t ")
    with pytest.raises(ValidationError, match=r"too long: 100,001 characters, the limit is 100,000"):
        await chat.add_user_message(alice, c.id, None, "x" * 100_001)
    with pytest.raises(NotFound, match="not part of this conversation"):
        await chat.add_user_message(alice, c.id, foreign.id, "A parent from another conversation")
    with pytest.raises(NotFound, match="not part of this conversation"):
        await chat.save_assistant_message(alice, c.id, uuid.uuid4(), "Orphan")
    with pytest.raises(NotFound, match="conversation does not exist"):
        await chat.add_user_message(alice, uuid.uuid4(), None, "Nowhere")
    with pytest.raises(ValidationError, match="status"):
        await chat.save_assistant_message(alice, c.id, None, "x", status="done")
    with pytest.raises(ValidationError, match="at least 0"):
        await chat.save_assistant_message(alice, c.id, None, "x", prompt_tokens=-1)
    assert (await chat.get_tree(alice, c.id)).messages == ()
    assert (await chat.get_conversation(alice, c.id)).current_leaf_id is None
    # Text is kept as written, NUL characters aside (Postgres cannot store them).
    m = await chat.add_user_message(alice, c.id, None, "\n  indented code\x00\n\n")
    assert m.text == "  indented code"


async def test_replies_usage_and_unfinished_or_failed_replies(alice) -> None:
    c = await chat.create_conversation(alice)
    q = await chat.add_user_message(alice, c.id, None, "Tell me a story")
    done = await chat.save_assistant_message(
        alice,
        c.id,
        q.id,
        "Once upon a time.",
        provider="openai",
        model="gpt-test",
        prompt_tokens=12,
        completion_tokens=5,
        ttft_ms=210,
        duration_ms=900,
    )
    stopped = await chat.save_assistant_message(
        alice, c.id, q.id, "Once upon a", status="unfinished", error_text="Stopped by you.", model="gpt-test"
    )
    failed = await chat.save_assistant_message(
        alice,
        c.id,
        q.id,
        "Once",
        status="error",
        error_text="The provider closed the connection (HTTP 502).",
        provider="openai",
        model="gpt-test",
    )
    stored = {m.id: m for m in (await chat.get_tree(alice, c.id)).messages}
    assert stored[done.id] == done
    assert (stored[done.id].prompt_tokens, stored[done.id].completion_tokens) == (12, 5)
    assert (stored[done.id].ttft_ms, stored[done.id].duration_ms) == (210, 900)
    assert (stored[stopped.id].status, stored[stopped.id].text, stored[stopped.id].error_text) == (
        "unfinished",
        "Once upon a",
        "Stopped by you.",
    )
    assert (stored[failed.id].status, stored[failed.id].text) == ("error", "Once")
    assert "HTTP 502" in stored[failed.id].error_text

    usage = await sql(
        alice.tenant_id,
        "SELECT message_id, user_id, conversation_id, provider, model, prompt_tokens, completion_tokens"
        " FROM usage_records WHERE conversation_id = :c ORDER BY created_at",
        c=c.id,
    )
    assert usage == [
        (done.id, alice.user_id, c.id, "openai", "gpt-test", 12, 5),
        (stopped.id, alice.user_id, c.id, "", "gpt-test", 0, 0),
        (failed.id, alice.user_id, c.id, "openai", "gpt-test", 0, 0),
    ]
    # An unfinished reply still feeds the model's history; a failed one keeps its partial text too.
    assert history_for_model(list(stored.values()), stopped.id)[-1].content == "Once upon a"

    # Usage outlives the conversation (for accounting), unlinked.
    await chat.delete_conversation(alice, c.id)
    rows = await sql(
        alice.tenant_id,
        "SELECT conversation_id, message_id, prompt_tokens FROM usage_records WHERE user_id = :u ORDER BY created_at",
        u=alice.user_id,
    )
    assert rows == [(None, None, 12), (None, None, 0), (None, None, 0)]
    assert await sql(alice.tenant_id, "SELECT count(*) FROM messages WHERE conversation_id = :c", c=c.id) == [
        (0,)
    ]


async def test_adding_a_message_is_one_insert_and_one_update(alice) -> None:
    c = await chat.create_conversation(alice)
    q, a = await exchange(alice, c.id, None, "warm up", "ok")
    with statements() as seen:
        await chat.add_user_message(alice, c.id, a.id, "Next question")
    writes = [s.split()[0] for s in seen if s.split()[0] in ("INSERT", "UPDATE", "DELETE")]
    assert writes == ["UPDATE", "INSERT"], seen
    assert "UPDATE conversations SET updated_at" in next(s for s in seen if s.startswith("UPDATE"))
    with statements() as seen:
        await chat.save_assistant_message(
            alice, c.id, q.id, "Another reply", prompt_tokens=1, completion_tokens=1
        )
    writes = [" ".join(s.split()[:3]) for s in seen if s.split()[0] in ("INSERT", "UPDATE", "DELETE")]
    assert writes == ["UPDATE conversations SET", "INSERT INTO messages", "INSERT INTO usage_records"], seen
    assert not any(s.startswith("SELECT") and "FROM messages" in s for s in seen)


async def test_the_visible_leaf_must_belong_to_its_conversation(alice) -> None:
    a = await chat.create_conversation(alice)
    b = await chat.create_conversation(alice)
    _, reply = await exchange(alice, b.id, None, "q", "r")
    with pytest.raises(IntegrityError, match="fk_conversations_current_leaf"):
        await sql(
            alice.tenant_id, "UPDATE conversations SET current_leaf_id = :m WHERE id = :c", m=reply.id, c=a.id
        )
    with pytest.raises(IntegrityError, match="fk_messages_parent"):
        await sql(
            alice.tenant_id,
            "INSERT INTO messages (id, tenant_id, conversation_id, parent_id, role, text, status, error_text,"
            " provider, model, created_at) VALUES (:id, :t, :c, :p, 'user', 'x', 'complete', '', '', '', now())",
            id=uuid.uuid4(),
            t=alice.tenant_id,
            c=a.id,
            p=reply.id,
        )


# The sidebar ----------------------------------------------------------------------------------------------


async def _set_activity(ctx: Ctx, conversation_id: uuid.UUID, when: datetime) -> None:
    await sql(
        ctx.tenant_id, "UPDATE conversations SET updated_at = :w WHERE id = :c", w=when, c=conversation_id
    )


async def _all_pages(
    ctx: Ctx, page_size: int, filters: ConversationFilters | None = None
) -> list[ConversationInfo]:
    items: list[ConversationInfo] = []
    cursor = None
    while True:
        page = await chat.list_conversations(ctx, filters, cursor=cursor, page_size=page_size)
        items.extend(page.items)
        if page.next_cursor is None:
            return items
        cursor = page.next_cursor


async def test_sidebar_order_and_stable_pagination_while_conversations_are_added(alice) -> None:
    base = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    created = [await chat.create_conversation(alice, title=f"c{i:02}") for i in range(23)]
    for i, c in enumerate(created):
        # Groups of three share the same activity time: the id breaks the tie.
        await _set_activity(alice, c.id, base + timedelta(minutes=i // 3))
    for c in created[:2]:
        await chat.set_pinned(alice, c.id, True)

    expected = await _all_pages(alice, 200)
    assert len(expected) == 23
    assert [c.id for c in expected[:2]] == sorted((created[1].id, created[0].id), reverse=True)
    keys = [(c.pinned, c.updated_at, c.id) for c in expected]
    assert keys == sorted(keys, reverse=True)

    seen: list[uuid.UUID] = []
    page = await chat.list_conversations(alice, page_size=5)
    seen += [c.id for c in page.items]
    newcomers = []
    while page.next_cursor:
        # New conversations arrive (at the top) while the user scrolls.
        newcomers.append(await chat.create_conversation(alice, title="newer"))
        page = await chat.list_conversations(alice, cursor=page.next_cursor, page_size=5)
        seen += [c.id for c in page.items]
    assert seen == [c.id for c in expected]  # no duplicates, no skips, same order
    assert len(newcomers) == 4
    # On reload they come right after the pinned ones, newest first.
    top = (await chat.list_conversations(alice, page_size=6)).items
    assert [c.id for c in top[2:]] == [n.id for n in reversed(newcomers)]

    with pytest.raises(ValidationError, match="no longer valid"):
        await chat.list_conversations(alice, cursor="not-a-cursor")
    with pytest.raises(ValidationError, match="between 1 and 200"):
        await chat.list_conversations(alice, page_size=0)


async def test_sidebar_filters(alice) -> None:
    work = await chat.create_folder(alice, "Work")
    urgent = await chat.create_tag(alice, "urgent")
    plain = await chat.create_conversation(alice, title="plain")
    filed = await chat.create_conversation(alice, title="filed", folder_id=work.id)
    tagged = await chat.create_conversation(alice, title="tagged")
    await chat.tag_conversation(alice, tagged.id, urgent.id)
    await chat.tag_conversation(alice, tagged.id, urgent.id)  # idempotent
    pinned = await chat.create_conversation(alice, title="pinned")
    await chat.set_pinned(alice, pinned.id, True)
    old = await chat.create_conversation(alice, title="old")
    await chat.set_archived(alice, old.id, True)

    async def titles(**kwargs: object) -> set[str]:
        return {c.title for c in await _all_pages(alice, 2, ConversationFilters(**kwargs))}  # type: ignore[arg-type]

    assert await titles() == {"plain", "filed", "tagged", "pinned"}
    assert await titles(archived=True) == {"old"}
    assert await titles(archived=None) == {"plain", "filed", "tagged", "pinned", "old"}
    assert await titles(folder_id=work.id) == {"filed"}
    assert await titles(tag_id=urgent.id) == {"tagged"}
    assert await titles(pinned=True) == {"pinned"}
    assert await titles(pinned=False, folder_id=work.id) == {"filed"}
    got = await chat.get_conversation(alice, tagged.id)
    assert got.tag_ids == (urgent.id,)
    assert plain.folder_id is None and filed.folder_id == work.id


def test_group_by_day() -> None:
    now = datetime(2026, 3, 10, 1, 30, tzinfo=UTC)  # 02:30 in UTC+1, 20:30 the day before in UTC-5

    def item(title: str, when: datetime, pinned: bool = False) -> ConversationInfo:
        return ConversationInfo(uuid.uuid4(), title, "", "", None, pinned, False, when, when, None)

    items = [
        item("pinned old", now - timedelta(days=40), pinned=True),
        item("just now", now - timedelta(minutes=5)),
        item("late yesterday utc", now - timedelta(hours=2)),  # 23:30 UTC on the 9th
        item("two days", now - timedelta(days=2)),
        item("seven days", now - timedelta(days=7)),
        item("eight days", now - timedelta(days=8)),
    ]
    utc = {g.label: [i.title for i in g.items] for g in group_by_day(items, now=now)}
    assert utc == {
        "Pinned": ["pinned old"],
        "Today": ["just now"],
        "Yesterday": ["late yesterday utc"],
        "Previous 7 days": ["two days", "seven days"],
        "Older": ["eight days"],
    }
    # In UTC+1 it is 02:30 on the 10th and 23:30 UTC was 00:30 on the 10th: both today.
    plus_one = {
        g.label: [i.title for i in g.items] for g in group_by_day(items, now=now, utc_offset_minutes=60)
    }
    assert plus_one["Today"] == ["just now", "late yesterday utc"]
    assert "Yesterday" not in plus_one
    # In UTC-5 it is still the 9th.
    minus_five = group_by_day(items, now=now, utc_offset_minutes=-300)
    assert [g.label for g in minus_five] == ["Pinned", "Today", "Previous 7 days", "Older"]
    assert [g.label for g in group_by_day([], now=now)] == []


# Folders and tags -----------------------------------------------------------------------------------------


async def test_folders(alice) -> None:
    b = await chat.create_folder(alice, "beta")
    a = await chat.create_folder(alice, "  Alpha  ")
    assert [f.name for f in await chat.list_folders(alice)] == ["Alpha", "beta"]
    with pytest.raises(ValidationError, match="already have a folder named “beta”"):
        await chat.create_folder(alice, "beta")
    with pytest.raises(ValidationError, match="already have a folder"):
        await chat.rename_folder(alice, a.id, "beta")
    with pytest.raises(ValidationError, match="Give the folder a name"):
        await chat.create_folder(alice, " ")
    assert (await chat.rename_folder(alice, a.id, "Archive 2025")).name == "Archive 2025"

    c = await chat.create_conversation(alice, folder_id=b.id)
    moved = await chat.move_to_folder(alice, c.id, a.id)
    assert moved.folder_id == a.id
    assert (await chat.move_to_folder(alice, c.id, None)).folder_id is None
    await chat.move_to_folder(alice, c.id, a.id)
    await chat.delete_folder(alice, a.id)  # its conversations stay, unfiled
    assert (await chat.get_conversation(alice, c.id)).folder_id is None
    with pytest.raises(NotFound):
        await chat.move_to_folder(alice, c.id, a.id)
    with pytest.raises(NotFound):
        await chat.delete_folder(alice, a.id)


async def test_tags(alice) -> None:
    t1 = await chat.create_tag(alice, "ideas")
    t2 = await chat.create_tag(alice, "Books")
    assert [t.name for t in await chat.list_tags(alice)] == ["Books", "ideas"]
    with pytest.raises(ValidationError, match="already have a tag"):
        await chat.create_tag(alice, "ideas")
    with pytest.raises(ValidationError, match="too long"):
        await chat.create_tag(alice, "x" * 51)
    c = await chat.create_conversation(alice)
    await chat.tag_conversation(alice, c.id, t1.id)
    await chat.tag_conversation(alice, c.id, t2.id)
    assert set((await chat.get_conversation(alice, c.id)).tag_ids) == {t1.id, t2.id}
    await chat.untag_conversation(alice, c.id, t1.id)
    await chat.untag_conversation(alice, c.id, t1.id)  # no-op
    assert (await chat.get_conversation(alice, c.id)).tag_ids == (t2.id,)
    assert (await chat.rename_tag(alice, t2.id, "Reading")).name == "Reading"
    await chat.delete_tag(alice, t2.id)
    assert (await chat.get_conversation(alice, c.id)).tag_ids == ()
    with pytest.raises(NotFound):
        await chat.tag_conversation(alice, c.id, t2.id)


# Isolation ------------------------------------------------------------------------------------------------


async def test_other_users_and_tenants_cannot_reach_a_conversation(alice, bob, eve) -> None:
    folder = await chat.create_folder(alice, "Private")
    tag = await chat.create_tag(alice, "secret")
    c = await chat.create_conversation(alice, title="Alice's plans", folder_id=folder.id)
    q, a = await exchange(alice, c.id, None, "my secret plan", "noted")
    await chat.tag_conversation(alice, c.id, tag.id)
    forged = Ctx(tenant_id=eve.tenant_id, user_id=alice.user_id, role="owner")  # right user id, wrong tenant

    for intruder in (bob, eve, forged):
        own = await chat.create_conversation(intruder) if intruder is not forged else None
        own_tag = await chat.create_tag(intruder, "mine") if intruder is not forged else None
        own_folder = await chat.create_folder(intruder, "mine") if intruder is not forged else None
        attempts = [
            chat.get_conversation(intruder, c.id),
            chat.rename_conversation(intruder, c.id, "pwned"),
            chat.set_title(intruder, c.id, "pwned"),
            chat.set_pinned(intruder, c.id, True),
            chat.set_archived(intruder, c.id, True),
            chat.set_model(intruder, c.id, "x", "y"),
            chat.move_to_folder(intruder, c.id, None),
            chat.get_tree(intruder, c.id),
            chat.select_sibling(intruder, c.id, q.id),
            chat.add_user_message(intruder, c.id, a.id, "injected"),
            chat.save_assistant_message(intruder, c.id, q.id, "injected"),
            chat.export_json(intruder, c.id),
            chat.export_markdown(intruder, c.id),
            chat.rename_folder(intruder, folder.id, "pwned"),
            chat.delete_folder(intruder, folder.id),
            chat.rename_tag(intruder, tag.id, "pwned"),
            chat.delete_tag(intruder, tag.id),
            chat.tag_conversation(intruder, c.id, tag.id),
            chat.untag_conversation(intruder, c.id, tag.id),
            chat.delete_conversation(intruder, c.id),
        ]
        if own is not None and own_tag is not None and own_folder is not None:
            attempts += [
                chat.tag_conversation(intruder, c.id, own_tag.id),  # own tag on Alice's conversation
                chat.tag_conversation(intruder, own.id, tag.id),  # Alice's tag on an own conversation
                chat.move_to_folder(intruder, own.id, folder.id),  # own conversation into Alice's folder
                chat.move_to_folder(intruder, c.id, own_folder.id),
                chat.add_user_message(intruder, own.id, q.id, "reply under Alice's message"),
                chat.select_sibling(intruder, own.id, q.id),
            ]
        for attempt in attempts:
            with pytest.raises(NotFound):
                await attempt
        assert [
            x.id for x in (await chat.list_conversations(intruder, ConversationFilters(archived=None))).items
        ] == ([own.id] if own else [])
        assert (await chat.list_conversations(intruder, ConversationFilters(folder_id=folder.id))).items == ()
        assert (await chat.list_conversations(intruder, ConversationFilters(tag_id=tag.id))).items == ()
        assert folder.id not in {f.id for f in await chat.list_folders(intruder)}
        assert tag.id not in {t.id for t in await chat.list_tags(intruder)}
        assert await chat.search(intruder, "secret plan") == []

    # Nothing of Alice's changed.
    tree = await chat.get_tree(alice, c.id)
    assert tree.conversation.title == "Alice's plans" and not tree.conversation.pinned
    assert tree.conversation.folder_id == folder.id and tree.conversation.tag_ids == (tag.id,)
    assert [m.id for m in tree.messages] == [q.id, a.id] and tree.conversation.current_leaf_id == a.id
    assert [f.name for f in await chat.list_folders(alice)] == ["Private"]
    assert [t.name for t in await chat.list_tags(alice)] == ["secret"]
    assert [h.conversation_id for h in await chat.search(alice, "secret plan")] == [c.id]


async def test_rls_hides_chat_rows_of_other_tenants(alice, eve) -> None:
    """Raw SQL as the app role: whatever the WHERE clause, another tenant's rows do not exist."""
    for ctx in (alice, eve):
        f = await chat.create_folder(ctx, "F")
        t = await chat.create_tag(ctx, "T")
        c = await chat.create_conversation(ctx, folder_id=f.id)
        await chat.tag_conversation(ctx, c.id, t.id)
        await exchange(ctx, c.id, None, "hello", "world")
    eve_conversation = (await chat.list_conversations(eve)).items[0].id
    for table in CHAT_TABLES:
        mine = await sql(
            alice.tenant_id,
            f"SELECT count(*), count(*) FILTER (WHERE tenant_id = :t) FROM {table}",
            t=alice.tenant_id,
        )
        assert mine[0][0] >= 1 and mine[0][0] == mine[0][1], table
        assert await sql(
            alice.tenant_id, f"SELECT count(*) FROM {table} WHERE tenant_id = :t", t=eve.tenant_id
        ) == [(0,)]
    assert await sql(
        alice.tenant_id, "SELECT count(*) FROM messages WHERE search @@ to_tsquery('simple', 'world')"
    ) == [(1,)]
    # Writes cannot reach them either.
    for statement in (
        "UPDATE conversations SET title = 'pwned' WHERE id = :c",
        "DELETE FROM messages WHERE conversation_id = :c",
        "DELETE FROM conversations WHERE id = :c",
    ):
        async with tenant_session(alice.tenant_id) as session:
            assert (await session.execute(text(statement), {"c": eve_conversation})).rowcount == 0  # type: ignore[attr-defined]
    with pytest.raises(ProgrammingError, match="row-level security"):
        await sql(
            alice.tenant_id,
            "INSERT INTO messages (id, tenant_id, conversation_id, role, text, status, error_text, provider, model,"
            " created_at) VALUES (:id, :t, :c, 'user', 'forged', 'complete', '', '', '', now())",
            id=uuid.uuid4(),
            t=eve.tenant_id,
            c=eve_conversation,
        )
    tree = await chat.get_tree(eve, eve_conversation)
    assert [m.text for m in tree.messages] == ["hello", "world"] and tree.conversation.title == "New chat"


async def test_two_tabs_writing_to_one_conversation_keep_it_whole(alice) -> None:
    """Two tabs on one conversation: both send at the same moment and both get replies; every message is kept
    and the tree stays a tree (each parent in the conversation, one reply per question)."""
    conv = await chat.create_conversation(alice, provider="fake", model="m")
    first = await chat.add_user_message(alice, conv.id, None, "hello")

    async def tab(n: int) -> None:
        question = await chat.add_user_message(alice, conv.id, first.id, f"tab {n} question")
        await asyncio.sleep(0.01 * n)
        await chat.save_assistant_message(
            alice, conv.id, question.id, f"tab {n} answer", provider="fake", model="m"
        )

    await asyncio.gather(*(tab(n) for n in range(8)))
    tree = await chat.get_tree(alice, conv.id)
    assert len(tree.messages) == 1 + 8 * 2
    ids = {m.id for m in tree.messages}
    assert all(m.parent_id is None or m.parent_id in ids for m in tree.messages)
    questions = [m for m in tree.messages if m.parent_id == first.id]
    assert len(questions) == 8
    for q in questions:
        answers = [m for m in tree.messages if m.parent_id == q.id]
        assert [a.text for a in answers] == [q.text.replace("question", "answer")]
    path = tree.path()
    assert path[0].message.id == first.id and path[1].count == 8  # the siblings navigate as branches
