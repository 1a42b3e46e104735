"""A window on the visible branch, read without loading the conversation's tree.

`path_window(ctx, conversation_id)` is the last `limit` steps of the branch the conversation shows;
`path_window(..., before=steps[0].message.id)` the `limit` steps above those, and so on up to the root. Each
step carries its place among its siblings exactly as `tree.branch_path` gives it, so the pages put together are
`branch_path(every message, current_leaf_id)`.

What a window costs does not depend on how long the conversation is: two statements after the ownership check
(`load_conversation` with the user's id; row-level security filters every statement as well):

1. one recursive CTE: if the visible leaf has children (or the conversation has no visible leaf yet), it first
   goes down through the newest child at each level (as `branch_path` does), then walks `parent_id` upward
   from the bottom, stopping after `limit + 1` rows (the extra one only says whether there is more above);
2. the siblings of the window's messages: the children of the window's parents, in one query.

`select_sibling` (services.chat.messages) uses the descent alone (`deepest_below`): its cost is the depth below
the chosen message.

Plans seen with EXPLAIN (ANALYZE) as the app role (FORCE row-level security on; the tenant's policy shows as
`Filter: (tenant_id = NULLIF(current_setting(...))::uuid)` on every scan, left out below), Postgres 18, on the
app database seeded by bench/long_conversation.py (a 2,000-message linear conversation):

    window from the visible leaf, limit 50: 0.5 to 0.9 ms, 158 buffers
      CTE down_all -> Recursive Union
           -> Index Scan using messages_pkey on messages s           Index Cond: (id = '<leaf>'::uuid)
           -> Nested Loop -> WorkTable Scan on down_all d
                          -> Limit -> Sort (c.created_at DESC, c.id DESC)
                               -> Index Scan using ix_messages_parent on messages c
                                    Index Cond: ((conversation_id = d.conversation_id) AND (parent_id = d.id))
      CTE up -> Recursive Union (rows=51)
           -> Index Scan using messages_pkey on messages m           Index Cond: (id = (InitPlan 2).col1)
           -> Nested Loop -> WorkTable Scan on up up_1  Filter: (depth < 50)
                          -> Index Scan using messages_pkey on messages m_1  (loops=50; at times
                               Index Cond: (id = up_1.parent_id)              under a Memoize node)
    window before a message 1,000 deep, limit 50: 0.66 ms, the same upward walk (rows=52, 156 buffers)
    siblings of the window's 50 parents: 0.41 ms, 72 buffers
      Index Scan using ix_messages_parent on messages
        Index Cond: ((conversation_id = '<c>'::uuid) AND (parent_id = ANY ('{...}'::uuid[])))
    select_sibling from a message with 1,000 levels below it: 42 ms (0.04 ms a level), the descent above.

The upward walk looks messages up by primary key alone, so its plan does not depend on statistics. The two
lookups by parent (the descent, the siblings) need ix_messages_parent, which the planner picks once the table
has statistics; right after a bulk load, before autovacuum has analyzed it, it was seen to read the
conversation's rows through uq_messages_conversation_id instead (3.6 ms for 2,000 rows), until the analyze.

`chain_above` is the same upward walk without the siblings, for the model's history (`services.turns`).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import text
from sqlmodel.ext.asyncio.session import AsyncSession

from services.auth.roles import require
from services.chat.common import (
    MESSAGE_NOT_FOUND,
    ConversationInfo,
    MessageInfo,
    load_conversation,
    message_info,
)
from services.chat.tree import PathStep
from services.context import Ctx
from services.db import tenant_session
from services.errors import NotFound, ValidationError

DEFAULT_WINDOW = 50
MAX_WINDOW = 500
# A descent stops after this many levels. Messages are only ever inserted below an existing parent, so the
# tree has no cycle; the cap is a guard against a row that names itself as its parent (it would loop).
MAX_DESCENT = 1_000_000

_COLUMNS = (
    "id, conversation_id, parent_id, role, text, content_parts, status, error_text, provider, model, "
    "prompt_tokens, completion_tokens, ttft_ms, duration_ms, created_at"
)
_M_COLUMNS = ", ".join(f"m.{c.strip()}" for c in _COLUMNS.split(","))

# The first row of a descent: the message :start itself (by primary key; its conversation is checked on the
# result), or the newest root of conversation :c.
_SEED_MESSAGE = "SELECT s.id, s.conversation_id, 0 FROM messages s WHERE s.id = CAST(:start AS uuid)"
_SEED_NEWEST_ROOT = (
    "(SELECT s.id, s.conversation_id, 0 FROM messages s WHERE s.conversation_id = :c AND s.parent_id IS NULL"
    " ORDER BY s.created_at DESC, s.id DESC LIMIT 1)"
)


def _down(seed: str) -> str:
    """From the seed down through the newest child at each level (children by ix_messages_parent); only rows
    of conversation :c count, so a seed of another conversation gives nothing."""
    return f"""
down_all(id, conversation_id, depth) AS (
    {seed}
  UNION ALL
    SELECT k.id, d.conversation_id, d.depth + 1 FROM down_all d
    CROSS JOIN LATERAL (
        SELECT c.id FROM messages c
        WHERE c.conversation_id = d.conversation_id AND c.parent_id = d.id
        ORDER BY c.created_at DESC, c.id DESC LIMIT 1
    ) k
    WHERE d.depth < {MAX_DESCENT} AND k.id <> d.id
),
down AS (SELECT id, depth FROM down_all WHERE conversation_id = :c)"""


def _up(seed: str) -> str:
    """From the message `seed` (depth 0) up through parent_id: at most :last + 1 rows (depths 0 ... :last).

    Both steps look messages up by primary key alone, so the plan never depends on how many messages the
    conversation has (or on how fresh the table's statistics are). The parent foreign key keeps a parent in
    its child's conversation; the caller checks the seed's conversation."""
    return f"""
up({_COLUMNS}, depth) AS (
    SELECT {_M_COLUMNS}, 0 FROM messages m WHERE m.id = {seed}
  UNION ALL
    SELECT {_M_COLUMNS}, up.depth + 1 FROM up JOIN messages m ON m.id = up.parent_id
    WHERE up.depth < :last
)"""


_DEEPEST = "(SELECT id FROM down ORDER BY depth DESC LIMIT 1)"
_DEEPEST_BELOW = text(
    f"WITH RECURSIVE {_down(_SEED_MESSAGE)} SELECT id FROM down ORDER BY depth DESC LIMIT 1"
)
_UP_FROM_LEAF = text(
    f"WITH RECURSIVE {_down(_SEED_MESSAGE)}, {_up(_DEEPEST)} SELECT * FROM up ORDER BY depth"
)
_UP_FROM_NEWEST_ROOT = text(
    f"WITH RECURSIVE {_down(_SEED_NEWEST_ROOT)}, {_up(_DEEPEST)} SELECT * FROM up ORDER BY depth"
)
_UP_FROM_MESSAGE = text(f"WITH RECURSIVE {_up('CAST(:start AS uuid)')} SELECT * FROM up ORDER BY depth")
_SIBLINGS = (
    "SELECT id, parent_id, created_at FROM messages"
    " WHERE conversation_id = :c AND (parent_id = ANY(CAST(:parents AS uuid[]))"
)
_SIBLINGS_OF = text(_SIBLINGS + ")")
_SIBLINGS_WITH_ROOTS = text(_SIBLINGS + " OR parent_id IS NULL)")


@dataclass(frozen=True, slots=True)
class PathWindow:
    conversation: ConversationInfo
    steps: list[PathStep]  # oldest first; the visible branch's last `limit` steps (or those before `before`)
    has_older: bool  # more steps exist above steps[0]


def _limit_ok(limit: int) -> int:
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_WINDOW:
        raise ValidationError(f"Ask for between 1 and {MAX_WINDOW} messages at a time.")
    return limit


async def deepest_below(
    session: AsyncSession, conversation_id: uuid.UUID, start: uuid.UUID
) -> uuid.UUID | None:
    """The newest deepest descendant of `start` (itself when it has no children); None when `start` is not a
    message of the conversation. Costs one index lookup per level below `start`."""
    found: uuid.UUID | None = await session.scalar(_DEEPEST_BELOW, {"c": conversation_id, "start": start})
    return found


async def _walk_up(
    session: AsyncSession,
    conversation_id: uuid.UUID,
    *,
    start: uuid.UUID | None,
    from_leaf: bool,
    last: int,
) -> list[dict[str, Any]]:
    """Rows from the bottom upward (depth 0 first): the bottom is `start` itself, or with `from_leaf` the
    deepest newest descendant of `start` (of the newest root when `start` is None)."""
    if not from_leaf:
        statement = _UP_FROM_MESSAGE
    else:
        statement = _UP_FROM_NEWEST_ROOT if start is None else _UP_FROM_LEAF
    result = await session.execute(statement, {"c": conversation_id, "start": start, "last": last})
    rows = [dict(r._mapping) for r in result]
    if rows and rows[0]["conversation_id"] != conversation_id:
        return []  # a message of another conversation (of another user, or of this one)
    return rows


async def _siblings(
    session: AsyncSession, conversation_id: uuid.UUID, messages: list[MessageInfo]
) -> dict[uuid.UUID | None, tuple[uuid.UUID, ...]]:
    """Sibling ids of each message (by parent id), oldest first (created_at, then id, as tree.children_of)."""
    parents = sorted({m.parent_id for m in messages if m.parent_id is not None})
    statement = _SIBLINGS_WITH_ROOTS if any(m.parent_id is None for m in messages) else _SIBLINGS_OF
    rows = (await session.execute(statement, {"c": conversation_id, "parents": parents})).all()
    grouped: dict[uuid.UUID | None, list[tuple[Any, uuid.UUID]]] = {}
    for row in rows:
        grouped.setdefault(row.parent_id, []).append((row.created_at, row.id))
    return {parent: tuple(i for _, i in sorted(kids)) for parent, kids in grouped.items()}


async def path_window(
    ctx: Ctx,
    conversation_id: uuid.UUID,
    *,
    before: uuid.UUID | None = None,
    limit: int = DEFAULT_WINDOW,
) -> PathWindow:
    """The last `limit` steps of the visible branch (ending at the conversation's current leaf, continued
    down its newest children; the newest branch when it has none), or with `before` the `limit` steps of
    the path just above that message. NotFound for another user's conversation or a foreign `before`."""
    require(ctx, "workspace.use")
    _limit_ok(limit)
    async with tenant_session(ctx.tenant_id) as session:
        conversation = await load_conversation(session, ctx.user_id, conversation_id)
        if before is None:
            rows = await _walk_up(
                session, conversation_id, start=conversation.current_leaf_id, from_leaf=True, last=limit
            )
        else:
            rows = await _walk_up(session, conversation_id, start=before, from_leaf=False, last=limit + 1)
            if not rows:
                raise NotFound(MESSAGE_NOT_FOUND)
            rows = rows[1:]  # `before` itself is not part of the window
        has_older = len(rows) > limit
        messages = [message_info(r) for r in reversed(rows[:limit])]
        siblings = await _siblings(session, conversation_id, messages) if messages else {}
    steps = []
    for message in messages:
        ids = siblings.get(message.parent_id) or (message.id,)
        steps.append(PathStep(message=message, index=ids.index(message.id), count=len(ids), sibling_ids=ids))
    return PathWindow(conversation=conversation, steps=steps, has_older=has_older)


async def chain_above(
    ctx: Ctx, conversation_id: uuid.UUID, message_id: uuid.UUID | None, *, limit: int
) -> tuple[list[MessageInfo], bool]:
    """The branch that ends at `message_id` (itself included, nothing below it), root first, at most `limit`
    messages: the nearest ones. Also whether it was cut (older messages exist above the first one).
    `message_id` None: no messages (the conversation's ownership is still checked)."""
    require(ctx, "workspace.use")
    if limit < 1:
        raise ValidationError("Ask for at least one message.")
    async with tenant_session(ctx.tenant_id) as session:
        await load_conversation(session, ctx.user_id, conversation_id)
        if message_id is None:
            return [], False
        rows = await _walk_up(session, conversation_id, start=message_id, from_leaf=False, last=limit)
    if not rows:
        raise NotFound(MESSAGE_NOT_FOUND)
    return [message_info(r) for r in reversed(rows[:limit])], len(rows) > limit
