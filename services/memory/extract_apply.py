"""Carrying out the memory model's operations (services/memory/extract.py): near-duplicates become updates,
only what the assistant extracted may be changed or deleted, the member's limits stop further adds; what was
done is returned for the record (kinds and ids only)."""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import text

from services.context import Ctx
from services.db import tenant_session
from services.errors import NotFound, ValidationError
from services.knowledge.embed import EmbeddingError, embed, embeddings_config
from services.knowledge.ingest import vector_literal
from services.memory import explicit, store
from services.memory.extract_prompt import EDITABLE_SOURCES, Known, Line, Operation

log = logging.getLogger("solo.memory.extract")

NEAR_DUPLICATE = 0.9  # cosine similarity at which an added memory is the same as a kept one
NEAR_WORDS = 0.8  # without embeddings: the share of the shorter text's words they have in common

# Applying ---------------------------------------------------------------------------------------------------

_NEAREST = text(
    """
    WITH q AS MATERIALIZED (SELECT CAST(:v AS vector) AS v)
    SELECT m.id, m.text, m.source, m.pinned, 1 - (m.embedding <=> q.v) AS similarity
    FROM memories m, q
    WHERE m.user_id = :u AND m.embedding_dim = vector_dims(q.v)
    ORDER BY m.embedding <=> q.v, m.id
    LIMIT 1
    """
)


@dataclass(frozen=True, slots=True)
class Near:
    id: uuid.UUID
    text: str
    editable: bool


async def _nearest(ctx: Ctx, vector: str | None, body: str, known: list[Known]) -> Near | None:
    """A memory the member keeps that says nearly the same as `body`, if any."""
    if vector is not None:
        async with tenant_session(ctx.tenant_id) as session:
            row = (await session.execute(_NEAREST, {"u": ctx.user_id, "v": vector})).first()
        if row is not None and row.similarity >= NEAR_DUPLICATE:
            return Near(row.id, row.text, row.source in EDITABLE_SOURCES and not row.pinned)
        return None
    wanted = explicit.words(body)
    for memory in known:
        have = explicit.words(memory.text)
        if wanted and have and len(wanted & have) / min(len(wanted), len(have)) >= NEAR_WORDS:
            return Near(memory.id, memory.text, memory.editable)
    return None


async def _vectors(ctx: Ctx, texts: list[str]) -> list[str | None]:
    """One embeddings request for every new text (None each without a model, or when it fails)."""
    cfg = await embeddings_config(ctx.tenant_id) if texts else None
    if cfg is None:
        return [None] * len(texts)
    try:
        return [vector_literal(v) for v in await embed(cfg, texts)]
    except EmbeddingError as exc:
        log.warning("extracted memories could not be embedded: %s", exc)
        return [None] * len(texts)


@dataclass(slots=True)
class Applied:
    records: list[dict[str, Any]] = field(default_factory=list)

    def note(self, op: str, memory_id: uuid.UUID | None = None, why: str = "") -> None:
        entry: dict[str, Any] = {"op": op}
        if memory_id is not None:
            entry["memory_id"] = str(memory_id)
        if why:
            entry["why"] = why
        self.records.append(entry)


async def apply(
    ctx: Ctx,
    ops: list[Operation],
    known: list[Known],
    lines: list[Line],
) -> list[dict[str, Any]]:
    """Carry out the model's operations under the rules above; what was done, for the record."""
    by_ref = {k.ref: k for k in known}
    user_lines = {line.ref: line for line in lines if line.role == "user"}
    newest_user = next((line for line in reversed(lines) if line.role == "user"), None)
    done = Applied()
    cleaned: list[tuple[Operation, str]] = []
    for op in ops:
        if op.op == "delete":
            cleaned.append((op, ""))
            continue
        try:
            cleaned.append((op, store.clean_text(op.text)))
        except ValidationError as exc:
            done.note("skip", why=f"{op.op}: {exc}")
    vectors = iter(await _vectors(ctx, [body for op, body in cleaned if op.op != "delete"]))
    touched: set[uuid.UUID] = set()
    for op, body in cleaned:
        vector = next(vectors) if op.op != "delete" else None
        try:
            if op.op in ("update", "delete"):
                target = by_ref.get(op.id)
                if target is None or target.id in touched:
                    done.note("skip", why=f"{op.op}: no memory {op.id or '(none named)'} was shown")
                elif not target.editable:
                    done.note("skip", target.id, f"{op.op}: the member's own memory")
                elif op.op == "delete":
                    await store.forget(ctx, target.id)
                    touched.add(target.id)
                    done.note("delete", target.id)
                elif body != target.text:
                    await store.edit_memory(
                        ctx, target.id, body, category=op.category, key=op.key, vector=vector
                    )
                    touched.add(target.id)
                    done.note("update", target.id)
                continue
            near = await _nearest(ctx, vector, body, known)
            if near is not None:
                if near.text == body or not near.editable or near.id in touched:
                    done.note("skip", near.id, "add: already kept")
                else:
                    await store.edit_memory(
                        ctx, near.id, body, category=op.category, key=op.key, vector=vector
                    )
                    touched.add(near.id)
                    done.note("update", near.id)
                continue
            origin = user_lines.get(op.source_ref) or newest_user
            saved = await store.add_memory(
                ctx, body, category=op.category, key=op.key or "", source="extracted",
                conversation_id=origin.conversation_id if origin else None,
                message_id=origin.message_id if origin else None, vector=vector,
            )  # fmt: skip
            touched.add(saved.id)
            done.note("add", saved.id)
        except NotFound:
            done.note("skip", why=f"{op.op}: the memory is gone")
        except ValidationError as exc:  # the member's limits: nothing more is added
            done.note("skip", why=f"{op.op}: {exc}")
    return done.records
