"""The path window (`chat.path_window`): pages of the visible branch read upward from its leaf, equal to the
whole-tree `branch_path` page by page, in a cost that does not depend on the conversation's length; and
`select_sibling`'s descent."""

from __future__ import annotations

import random
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import insert, update
from sqlmodel import col

from models import Conversation, Message
from services import chat
from services.chat import PathStep, path_window
from services.context import Ctx
from services.db import tenant_session
from services.errors import NotFound, ValidationError
from tests.services.test_chat import statements
from tests.services.test_chat_support import new_ctx

T0 = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture
async def alice(tenant) -> Ctx:  # type: ignore[no-untyped-def]
    return await new_ctx(tenant.id, "alice@example.com")


async def insert_messages(
    ctx: Ctx, conversation_id: uuid.UUID, rows: Sequence[dict[str, Any]], leaf: uuid.UUID | None
) -> None:
    """Bulk INSERT of messages (id, parent_id, role, text, created_at; optional content_parts) as the app role,
    parents before children, then the conversation's visible leaf (None: as an import without one)."""
    values = [
        {
            "tenant_id": ctx.tenant_id,
            "conversation_id": conversation_id,
            "content_parts": [],
            "status": "complete",
            "error_text": "",
            "provider": "",
            "model": "",
            **row,
        }
        for row in rows
    ]
    async with tenant_session(ctx.tenant_id) as session:
        for start in range(0, len(values), 1000):
            await session.exec(insert(Message).values(values[start : start + 1000]))
        await session.exec(
            update(Conversation).where(col(Conversation.id) == conversation_id).values(current_leaf_id=leaf)
        )


async def linear_conversation(
    ctx: Ctx, length: int, *, text: str = "message {i}"
) -> tuple[uuid.UUID, list[uuid.UUID]]:
    """A conversation of `length` messages, user and assistant in turn, each the child of the one before."""
    conversation = await chat.create_conversation(ctx)
    ids = [uuid.uuid4() for _ in range(length)]
    rows = [
        {
            "id": mid,
            "parent_id": ids[i - 1] if i else None,
            "role": "user" if i % 2 == 0 else "assistant",
            "text": text.format(i=i),
            "created_at": T0 + timedelta(seconds=i),
        }
        for i, mid in enumerate(ids)
    ]
    await insert_messages(ctx, conversation.id, rows, ids[-1] if ids else None)
    return conversation.id, ids


def random_tree(rng: random.Random, size: int) -> list[dict[str, Any]]:
    """A random tree: a few roots, many branches (edits, regenerations), deep chains; created_at often tied
    between siblings, so their order falls to the id, as in tree.children_of."""
    rows: list[dict[str, Any]] = []
    for i in range(size):
        if not rows or rng.random() < 0.06:
            parent = None
        elif rng.random() < 0.7:
            parent = rows[-1]["id"]  # continue the last chain
        else:
            parent = rng.choice(rows)["id"]  # branch off anywhere
        rows.append(
            {
                "id": uuid.uuid4(),
                "parent_id": parent,
                "role": rng.choice(("user", "assistant", "tool", "system")),
                "text": f"m{i}",
                "created_at": T0 + timedelta(seconds=rng.randint(0, size // 3)),
            }
        )
    return rows


async def pages(ctx: Ctx, conversation_id: uuid.UUID, limit: int) -> list[PathStep]:
    """Every page from the leaf up to the root, put together root first; checks has_older on the way."""
    window = await path_window(ctx, conversation_id, limit=limit)
    out = list(window.steps)
    while window.has_older:
        assert len(window.steps) == limit
        window = await path_window(ctx, conversation_id, before=window.steps[0].message.id, limit=limit)
        assert window.steps, "has_older promised more steps"
        out = list(window.steps) + out
    assert len(window.steps) <= limit
    return out


async def test_pages_put_together_are_the_branch_path_of_random_trees(alice) -> None:
    rng = random.Random(20261202)
    for round_ in range(20):
        conversation = await chat.create_conversation(alice)
        rows = random_tree(rng, rng.randint(1, 40))
        # The visible leaf: usually a message (often one with children below it), sometimes none at all.
        leaf = None if round_ % 5 == 0 else rng.choice(rows)["id"]
        await insert_messages(alice, conversation.id, rows, leaf)
        tree = await chat.get_tree(alice, conversation.id)
        expected = chat.branch_path(tree.messages, leaf)
        assert expected, "a tree with messages has a visible branch"
        for limit in (1, 3, 50):
            assert await pages(alice, conversation.id, limit) == expected, (round_, limit)
        window = await path_window(alice, conversation.id)
        assert window.conversation == tree.conversation
        assert window.has_older == (len(expected) > 50)


async def test_a_window_is_the_tail_of_the_branch_and_pages_up_to_the_root(alice) -> None:
    cid, ids = await linear_conversation(alice, 7)
    window = await path_window(alice, cid, limit=3)
    assert [s.message.id for s in window.steps] == ids[4:] and window.has_older
    assert [(s.index, s.count, s.sibling_ids) for s in window.steps] == [(0, 1, (i,)) for i in ids[4:]]
    window = await path_window(alice, cid, before=ids[4], limit=3)
    assert [s.message.id for s in window.steps] == ids[1:4] and window.has_older
    window = await path_window(alice, cid, before=ids[1], limit=3)
    assert [s.message.id for s in window.steps] == ids[:1] and not window.has_older
    assert (await path_window(alice, cid, before=ids[0])).steps == []  # nothing above the root
    # Exactly `limit` steps to the root: nothing older.
    assert not (await path_window(alice, cid, before=ids[3], limit=3)).has_older

    empty = await chat.create_conversation(alice)
    window = await path_window(alice, empty.id)
    assert window.steps == [] and not window.has_older and window.conversation.id == empty.id


async def test_a_window_costs_the_same_in_a_long_conversation(alice) -> None:
    short, _ = await linear_conversation(alice, 10)
    long, ids = await linear_conversation(alice, 600)
    sent = {}
    for cid in (short, long):
        with statements() as seen:
            window = await path_window(alice, cid, limit=5)
        sent[cid] = seen
        assert len(window.steps) == 5
    # set_config, the conversation, the walk up, the siblings: nothing that reads the whole conversation.
    assert len(sent[short]) == len(sent[long]) == 4
    with statements() as seen:
        window = await path_window(alice, long, before=ids[300], limit=5)
    assert len(seen) == 4 and [s.message.id for s in window.steps] == ids[295:300]


async def test_bad_limits_and_foreign_messages_are_refused(alice) -> None:
    cid, _ = await linear_conversation(alice, 4)
    _, other_ids = await linear_conversation(alice, 2)
    for limit in (0, -1, 501):
        with pytest.raises(ValidationError, match="between 1 and 500"):
            await path_window(alice, cid, limit=limit)
    for foreign in (other_ids[1], uuid.uuid4()):  # a message of another conversation, or none at all
        with pytest.raises(NotFound, match="not part of this conversation"):
            await path_window(alice, cid, before=foreign)
    with pytest.raises(NotFound, match="conversation does not exist"):
        await path_window(alice, uuid.uuid4())


async def test_other_users_and_tenants_get_not_found(alice, tenant, other_tenant) -> None:
    cid, ids = await linear_conversation(alice, 4)
    bob = await new_ctx(tenant.id, "bob@example.com")
    eve = await new_ctx(other_tenant.id, "eve@example.com", role="owner")
    forged = Ctx(tenant_id=other_tenant.id, user_id=alice.user_id, role="owner")  # Alice's id, other tenant
    for intruder in (bob, eve, forged):
        for before in (None, ids[2]):
            with pytest.raises(NotFound, match="conversation does not exist"):
                await path_window(intruder, cid, before=before)
        with pytest.raises(NotFound):
            await chat.select_sibling(intruder, cid, ids[0])
    assert [s.message.id for s in (await path_window(alice, cid)).steps] == ids


async def test_select_sibling_descends_by_the_newest_children(alice) -> None:
    conversation = await chat.create_conversation(alice)
    q, a1, a2, a3, f1, f2, deep = (uuid.uuid4() for _ in range(7))
    rows: list[dict[str, Any]] = [
        {"id": q, "parent_id": None, "role": "user", "text": "q", "created_at": T0},
        {
            "id": a1,
            "parent_id": q,
            "role": "assistant",
            "text": "a1",
            "created_at": T0 + timedelta(seconds=1),
        },
        {
            "id": a2,
            "parent_id": q,
            "role": "assistant",
            "text": "a2",
            "created_at": T0 + timedelta(seconds=2),
        },
        {
            "id": a3,
            "parent_id": q,
            "role": "assistant",
            "text": "a3",
            "created_at": T0 + timedelta(seconds=2),
        },
        {"id": f1, "parent_id": a1, "role": "user", "text": "f1", "created_at": T0 + timedelta(seconds=3)},
        {"id": f2, "parent_id": a1, "role": "user", "text": "f2", "created_at": T0 + timedelta(seconds=3)},
        {"id": deep, "parent_id": max(f1, f2), "role": "assistant", "text": "d", "created_at": T0},
    ]
    await insert_messages(alice, conversation.id, rows, a1)
    # a2 and a3 have the same time: the newest is the one with the larger id (as tree.children_of orders).
    assert await chat.select_sibling(alice, conversation.id, q) == max(a2, a3)
    assert await chat.select_sibling(alice, conversation.id, a1) == deep  # through the newest of f1/f2
    assert await chat.select_sibling(alice, conversation.id, min(f1, f2)) == min(f1, f2)  # no children
    window = await path_window(alice, conversation.id)
    assert [s.message.id for s in window.steps] == [q, a1, min(f1, f2)]
    assert (window.steps[1].index, window.steps[1].count) == (0, 3)
    assert window.steps[2].sibling_ids == tuple(sorted((f1, f2)))
    _, other_ids = await linear_conversation(alice, 2)
    with pytest.raises(NotFound, match="not part of this conversation"):
        await chat.select_sibling(alice, conversation.id, other_ids[0])
    assert (await chat.get_conversation(alice, conversation.id)).current_leaf_id == min(f1, f2)
