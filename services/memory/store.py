"""A member's memories: list, add, edit, pin, forget, forget everything, export.

Every call takes the member's context and touches only that member's rows (`user_id = ctx.user_id` in every
statement) inside their tenant (RLS). Nobody else reads them through the app, an admin included. A memory is one
complete sentence of at most `MAX_CHARS` characters; a member keeps at most `MEMORY_MAX_COUNT` memories of
`MEMORY_MAX_TOKENS` tokens in all. Each is embedded with the tenant's embeddings model when there is one (a
failure leaves it without: it is then chosen by pin and recency only).
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select, text, update
from sqlmodel import col

from models import MEMORY_CATEGORIES, MEMORY_SOURCES, Memory, User
from models.base import utcnow
from services.auth.roles import require
from services.config import get_settings
from services.context import Ctx
from services.db import tenant_session
from services.errors import NotFound, ValidationError
from services.knowledge.chunk import count_tokens
from services.knowledge.embed import EmbeddingError, embed, embeddings_config
from services.knowledge.ingest import vector_literal

log = logging.getLogger("solo.memory")

MAX_CHARS = 500
MAX_KEY = 80
NOT_FOUND = "That memory does not exist (it may have been forgotten already)."
# The `vector` of add_memory / edit_memory: embed the text now (else: a vector literal, or None for none).
EMBED = "embed"


@dataclass(frozen=True, slots=True)
class MemoryInfo:
    id: uuid.UUID
    text: str
    key: str
    category: str
    source: str
    pinned: bool
    conversation_id: uuid.UUID | None
    message_id: uuid.UUID | None
    tokens: int
    times_used: int
    created_at: datetime
    updated_at: datetime
    last_used_at: datetime | None


def info(row: Memory) -> MemoryInfo:
    return MemoryInfo(
        row.id, row.text, row.key, row.category, row.source, row.pinned, row.conversation_id, row.message_id,
        row.tokens, row.times_used, row.created_at, row.updated_at, row.last_used_at,
    )  # fmt: skip


def clean_text(value: str) -> str:
    cleaned = " ".join(value.split())
    if not cleaned:
        raise ValidationError("Write the memory as a sentence, for example “I coach first-time founders.”")
    if len(cleaned) > MAX_CHARS:
        raise ValidationError(f"A memory has at most {MAX_CHARS} characters: split it into shorter ones.")
    if cleaned[-1] not in ".!?…":
        cleaned += "."
    return cleaned[0].upper() + cleaned[1:]  # a sentence


def _category(value: str) -> str:
    if value not in MEMORY_CATEGORIES:
        raise ValidationError(f"Choose a category: {', '.join(MEMORY_CATEGORIES)}.")
    return value


async def vector_of(ctx: Ctx, body: str) -> str | None:
    """The memory's embedding as a vector literal with the tenant's model, or None (none, or it failed)."""
    cfg = await embeddings_config(ctx.tenant_id)
    if cfg is None:
        return None
    try:
        [vector] = await embed(cfg, [body])
    except EmbeddingError as exc:
        log.warning("a memory could not be embedded (it is used by pin and recency only): %s", exc)
        return None
    return vector_literal(vector)


async def _set_vector(session: Any, memory_id: uuid.UUID, vector: str | None) -> None:
    await session.execute(
        text(
            "UPDATE memories SET embedding = CAST(:v AS vector), "
            "embedding_dim = CASE WHEN :v IS NULL THEN NULL ELSE vector_dims(CAST(:v AS vector)) END "
            "WHERE id = :id"
        ),
        {"v": vector, "id": memory_id},
    )


async def list_memories(
    ctx: Ctx, *, query: str = "", category: str = "", limit: int = 1000
) -> list[MemoryInfo]:
    """The member's memories, pinned first, then the most recently changed; `query` matches words of the text
    or label (case-insensitive), `category` one category."""
    require(ctx, "workspace.use")
    statement = select(Memory).where(col(Memory.user_id) == ctx.user_id)
    if category:
        statement = statement.where(col(Memory.category) == _category(category))
    for word in query.split()[:8]:
        pattern = "%" + word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        statement = statement.where(col(Memory.text).ilike(pattern) | col(Memory.key).ilike(pattern))
    statement = statement.order_by(
        col(Memory.pinned).desc(), col(Memory.updated_at).desc(), col(Memory.id).desc()
    ).limit(limit)
    async with tenant_session(ctx.tenant_id) as session:
        return [info(r) for r in (await session.execute(statement)).scalars()]


@dataclass(frozen=True, slots=True)
class MemoryState:
    enabled: bool  # the member's "Use memory"
    kept: bool  # they keep at least one memory
    workspace: bool = True  # the workspace's admins leave memory on (services/memory/settings.py)

    @property
    def on(self) -> bool:
        """Memories are used and extracted for this member now."""
        return self.enabled and self.workspace


async def memory_state(ctx: Ctx) -> MemoryState:
    """One query: whether the member (and their workspace) use memory and whether they keep any (the turn skips
    all of it when not)."""
    async with tenant_session(ctx.tenant_id) as session:
        row = (
            await session.execute(
                text(
                    "SELECT u.memory_enabled, EXISTS (SELECT 1 FROM memories m WHERE m.user_id = u.id), "
                    "coalesce(t.config -> 'memory' ->> 'enabled', 'true') <> 'false' "
                    "FROM users u JOIN tenants t ON t.id = u.tenant_id WHERE u.id = :u"
                ),
                {"u": ctx.user_id},
            )
        ).first()
    if row is None:
        return MemoryState(False, False, False)
    return MemoryState(bool(row[0]), bool(row[1]), bool(row[2]))


async def set_memory_enabled(ctx: Ctx, enabled: bool) -> None:
    """The member's own switch (their memories stay either way; "Forget everything" deletes them)."""
    require(ctx, "workspace.use")
    async with tenant_session(ctx.tenant_id) as session:
        await session.execute(update(User).where(col(User.id) == ctx.user_id).values(memory_enabled=enabled))


async def get_many(ctx: Ctx, memory_ids: list[uuid.UUID]) -> list[MemoryInfo]:
    """Those of `memory_ids` the member still keeps, in the given order (a forgotten one is simply absent)."""
    require(ctx, "workspace.use")
    if not memory_ids:
        return []
    async with tenant_session(ctx.tenant_id) as session:
        rows = (
            await session.execute(
                select(Memory).where(col(Memory.id).in_(memory_ids), col(Memory.user_id) == ctx.user_id)
            )
        ).scalars()
        found = {r.id: info(r) for r in rows}
    return [found[i] for i in memory_ids if i in found]


async def add_memory(
    ctx: Ctx,
    body: str,
    *,
    category: str = "other",
    key: str = "",
    source: str = "manual",
    pinned: bool = False,
    conversation_id: uuid.UUID | None = None,
    message_id: uuid.UUID | None = None,
    vector: str | None = EMBED,
) -> MemoryInfo:
    require(ctx, "workspace.use")
    body, category = clean_text(body), _category(category)
    if source not in MEMORY_SOURCES:
        raise ValidationError(f"Unknown memory source {source!r}.")
    tokens = count_tokens(body)
    if vector == EMBED:  # before the transaction: no session is held across the HTTP call
        vector = await vector_of(ctx, body)
    settings = get_settings()
    async with tenant_session(ctx.tenant_id) as session:
        # One member's additions one at a time, so that two at once cannot both pass the limits.
        await session.execute(
            text("SELECT pg_advisory_xact_lock(hashtext('memories:' || :u))"), {"u": str(ctx.user_id)}
        )
        count, total = (
            await session.execute(
                select(func.count(), func.coalesce(func.sum(Memory.tokens), 0)).where(
                    col(Memory.user_id) == ctx.user_id
                )
            )
        ).one()
        if count >= settings.memory_max_count:
            raise ValidationError(
                f"You keep {count} memories, the most there may be: forget some on the Memory page first."
            )
        if total + tokens > settings.memory_max_tokens:
            raise ValidationError(
                "Your memories are full (their total size is at its limit): forget some first."
            )
        row = Memory(
            tenant_id=ctx.tenant_id, user_id=ctx.user_id, text=body, key=" ".join(key.split())[:MAX_KEY],
            category=category, source=source, pinned=pinned, tokens=tokens,
            conversation_id=conversation_id, message_id=message_id,
        )  # fmt: skip
        session.add(row)
        await session.flush()
        await _set_vector(session, row.id, vector)
        return info(row)


async def _mine(session: Any, ctx: Ctx, memory_id: uuid.UUID) -> Memory:
    row = (
        await session.execute(
            select(Memory)
            .where(col(Memory.id) == memory_id, col(Memory.user_id) == ctx.user_id)
            .with_for_update()
        )
    ).scalar_one_or_none()
    if row is None:
        raise NotFound(NOT_FOUND)
    return row


async def edit_memory(
    ctx: Ctx,
    memory_id: uuid.UUID,
    body: str,
    *,
    category: str | None = None,
    key: str | None = None,
    vector: str | None = EMBED,
) -> MemoryInfo:
    require(ctx, "workspace.use")
    body = clean_text(body)
    if vector == EMBED:
        vector = await vector_of(ctx, body)
    async with tenant_session(ctx.tenant_id) as session:
        row = await _mine(session, ctx, memory_id)
        tokens = count_tokens(body)
        total = (
            await session.execute(
                select(func.coalesce(func.sum(Memory.tokens), 0)).where(
                    col(Memory.user_id) == ctx.user_id, col(Memory.id) != memory_id
                )
            )
        ).scalar_one()
        if total + tokens > get_settings().memory_max_tokens:
            raise ValidationError(
                "Your memories are full (their total size is at its limit): forget some first."
            )
        row.text, row.tokens, row.updated_at = body, tokens, utcnow()
        if category is not None:
            row.category = _category(category)
        if key is not None:
            row.key = " ".join(key.split())[:MAX_KEY]
        session.add(row)
        await session.flush()
        await _set_vector(session, row.id, vector)
        return info(row)


async def set_pinned(ctx: Ctx, memory_id: uuid.UUID, pinned: bool) -> None:
    require(ctx, "workspace.use")
    async with tenant_session(ctx.tenant_id) as session:
        row = await _mine(session, ctx, memory_id)
        row.pinned = pinned
        session.add(row)


async def forget(ctx: Ctx, memory_id: uuid.UUID) -> None:
    require(ctx, "workspace.use")
    async with tenant_session(ctx.tenant_id) as session:
        done = await session.execute(
            delete(Memory).where(col(Memory.id) == memory_id, col(Memory.user_id) == ctx.user_id)
        )
        if not getattr(done, "rowcount", 0):
            raise NotFound(NOT_FOUND)


async def forget_everything(ctx: Ctx) -> int:
    """Every memory of the member, with its embedding; how many there were."""
    require(ctx, "workspace.use")
    async with tenant_session(ctx.tenant_id) as session:
        done = await session.execute(delete(Memory).where(col(Memory.user_id) == ctx.user_id))
        return int(getattr(done, "rowcount", 0) or 0)


async def mark_used(ctx: Ctx, memory_ids: list[uuid.UUID]) -> None:
    """The reply turn used these: one UPDATE, after the reply (never before the first token)."""
    if not memory_ids:
        return
    async with tenant_session(ctx.tenant_id) as session:
        await session.execute(
            update(Memory)
            .where(col(Memory.id).in_(memory_ids), col(Memory.user_id) == ctx.user_id)
            .values(times_used=col(Memory.times_used) + 1, last_used_at=utcnow())
        )


def export(memories: list[MemoryInfo]) -> list[dict[str, Any]]:
    """The Memory page's JSON export: everything but the embeddings."""
    return [
        {
            "text": m.text,
            "key": m.key,
            "category": m.category,
            "source": m.source,
            "pinned": m.pinned,
            "conversation_id": str(m.conversation_id) if m.conversation_id else None,
            "created_at": m.created_at.isoformat(),
            "updated_at": m.updated_at.isoformat(),
            "last_used_at": m.last_used_at.isoformat() if m.last_used_at else None,
            "times_used": m.times_used,
        }
        for m in memories
    ]
