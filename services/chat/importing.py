"""Import conversations from our JSON export (or its zip archive), ChatGPT's `conversations.json` (or the
zip it comes in) and LibreChat's JSON export (flat `messages` list or the nested `recursive` tree).

The file is read from disk as a stream in a worker thread (`import_stream`), a batch of conversations at a
time, so memory stays bounded whatever the file's size. Each conversation is written in its own savepoint:
it is imported in full or not at all. A bad conversation is skipped and listed with its reason; the good ones
are imported. Message trees (branches), timestamps, titles, models and, for our format, folders, tags, pins
and archive flags are kept. Imported conversations get new ids, so importing the same file twice gives two
copies, never a collision.
"""

from __future__ import annotations

import asyncio
import inspect
import os
import tempfile
import uuid
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import SQLModel, col
from sqlmodel.ext.asyncio.session import AsyncSession

from models import Folder, Tag
from models.base import utcnow
from services.auth.roles import require
from services.chat.import_parse import ParsedConversation
from services.chat.import_stream import MAX_IMPORT_BYTES, Reading, Skipped, read_export
from services.chat.tree import latest_leaf
from services.context import Ctx
from services.db import tenant_session
from services.errors import ValidationError

__all__ = [
    "MAX_IMPORT_BYTES",
    "ImportProgress",
    "ImportResult",
    "Skipped",
    "import_conversations",
    "import_file",
]

_BATCH = 100  # conversations parsed per hand-off from the reading thread (and per transaction)
_LISTED = 3  # skipped conversations named in the error when nothing could be imported


@dataclass(frozen=True, slots=True)
class ImportResult:
    format: str  # "solo-chat", "chatgpt", "librechat" (joined with "+" when a file mixes them)
    conversations: int
    messages: int
    conversation_ids: tuple[uuid.UUID, ...]
    skipped: tuple[Skipped, ...] = ()


@dataclass(frozen=True, slots=True)
class ImportProgress:
    conversations: int  # imported so far
    skipped: int
    bytes_read: int
    bytes_total: int

    @property
    def percent(self) -> int:
        return min(100, self.bytes_read * 100 // self.bytes_total) if self.bytes_total else 0


ProgressCallback = Callable[[ImportProgress], Awaitable[None] | None]


@dataclass(frozen=True, slots=True)
class _Node:
    id: uuid.UUID
    parent_id: uuid.UUID | None
    created_at: datetime


async def _ensure_named(
    session: AsyncSession, ctx: Ctx, model: type[Folder] | type[Tag], names: set[str]
) -> dict[str, uuid.UUID]:
    """Ids of the user's folders (or tags) with these names, creating the missing ones."""
    if not names:
        return {}
    now = utcnow()
    await session.exec(
        pg_insert(model)
        .values(
            [
                {
                    "id": uuid.uuid4(),
                    "tenant_id": ctx.tenant_id,
                    "user_id": ctx.user_id,
                    "name": n,
                    "created_at": now,
                }
                for n in sorted(names)
            ]
        )
        .on_conflict_do_nothing(index_elements=["user_id", "name"])
    )
    rows = await session.execute(
        select(col(model.id), col(model.name)).where(
            col(model.user_id) == ctx.user_id, col(model.name).in_(sorted(names))
        )
    )
    return {r.name: r.id for r in rows}


async def _report(progress: ProgressCallback | None, state: ImportProgress) -> None:
    if progress is not None:
        result = progress(state)
        if inspect.isawaitable(result):
            await result


def _rows(
    ctx: Ctx,
    conversation: ParsedConversation,
    folder_ids: dict[str, uuid.UUID],
    tag_ids: dict[str, uuid.UUID],
) -> tuple[dict[str, Any], list[dict[str, Any]], list[dict[str, Any]]]:
    conversation_id = uuid.uuid4()
    ids = {m.key: uuid.uuid4() for m in conversation.messages}
    messages: list[dict[str, Any]] = []
    for m in conversation.messages:
        assert m.created_at is not None  # filled in by _finish
        messages.append(
            {
                "id": ids[m.key],
                "tenant_id": ctx.tenant_id,
                "conversation_id": conversation_id,
                "parent_id": ids[m.parent_key] if m.parent_key is not None else None,
                "role": m.role,
                "text": m.text,
                "content_parts": m.content_parts,
                "status": m.status,
                "error_text": m.error_text,
                "provider": m.provider,
                "model": m.model,
                "prompt_tokens": m.prompt_tokens,
                "completion_tokens": m.completion_tokens,
                "ttft_ms": m.ttft_ms,
                "duration_ms": m.duration_ms,
                "created_at": m.created_at,
            }
        )
    if conversation.current_key is not None:
        leaf = latest_leaf(
            [_Node(r["id"], r["parent_id"], r["created_at"]) for r in messages], ids[conversation.current_key]
        )
    else:
        leaf = latest_leaf([_Node(r["id"], r["parent_id"], r["created_at"]) for r in messages])
    row = {
        "id": conversation_id,
        "tenant_id": ctx.tenant_id,
        "user_id": ctx.user_id,
        "title": conversation.title,
        "provider": conversation.provider,
        "model": conversation.model,
        "folder_id": folder_ids.get(conversation.folder) if conversation.folder else None,
        "pinned": conversation.pinned,
        "archived": conversation.archived,
        "created_at": conversation.created_at,
        "updated_at": conversation.updated_at,
        "current_leaf_id": leaf,
    }
    tags = [
        {"conversation_id": conversation_id, "tag_id": tag_ids[t], "tenant_id": ctx.tenant_id}
        for t in conversation.tags
    ]
    return row, messages, tags


def _take(
    items: Iterator[ParsedConversation | Skipped], n: int
) -> tuple[list[ParsedConversation | Skipped], ValidationError | None]:
    """Up to n items, and the file's problem if reading stopped on one (after the items before it)."""
    batch: list[ParsedConversation | Skipped] = []
    try:
        for item in items:
            batch.append(item)
            if len(batch) >= n:
                break
    except ValidationError as exc:
        return batch, exc
    return batch, None


Rows = tuple[dict[str, Any], list[dict[str, Any]], list[dict[str, Any]]]


async def _insert(session: AsyncSession, rows: list[Rows]) -> None:
    """Insert conversations with their messages and tags inside one savepoint: all of them or none."""
    tables = SQLModel.metadata.tables
    async with session.begin_nested():
        await session.execute(insert(tables["conversations"]), [r[0] for r in rows])
        messages = [m for r in rows for m in r[1]]
        if messages:
            await session.execute(insert(tables["messages"]), messages)
        tags = [t for r in rows for t in r[2]]
        if tags:
            await session.execute(insert(tables["conversation_tags"]), tags)


async def _write(
    ctx: Ctx, parsed: list[ParsedConversation], ids: list[uuid.UUID], skipped: list[Skipped]
) -> int:
    """Write a batch in one transaction; the number of messages written.

    The batch goes in with bulk INSERTs in one savepoint; if the database refuses it, each conversation is
    tried again in its own savepoint, so one bad conversation is left out whole and the others are kept."""
    written = 0
    async with tenant_session(ctx.tenant_id) as session:
        folder_ids = await _ensure_named(session, ctx, Folder, {c.folder for c in parsed if c.folder})
        tag_ids = await _ensure_named(session, ctx, Tag, {t for c in parsed for t in c.tags})
        rows = [_rows(ctx, c, folder_ids, tag_ids) for c in parsed]
        try:
            await _insert(session, rows)
            groups: list[tuple[ParsedConversation, list[Rows]]] = []
        except SQLAlchemyError:
            groups = [(c, [r]) for c, r in zip(parsed, rows, strict=True)]
        else:
            ids.extend(r[0]["id"] for r in rows)
            return sum(len(r[1]) for r in rows)
        for conversation, one in groups:
            try:
                await _insert(session, one)
            except SQLAlchemyError as exc:
                detail = str(getattr(exc, "orig", exc)).splitlines()[0][:200]
                skipped.append(
                    Skipped(conversation.title, f"“{conversation.title}” could not be saved: {detail}")
                )
                continue
            ids.append(one[0][0]["id"])
            written += len(one[0][1])
    return written


def _nothing(skipped: list[Skipped]) -> ValidationError:
    reasons = "; ".join(s.reason for s in skipped[:_LISTED])
    more = f" (and {len(skipped) - _LISTED} more)" if len(skipped) > _LISTED else ""
    return ValidationError(f"Nothing was imported: {reasons}{more}")


async def import_file(ctx: Ctx, path: Path, *, progress: ProgressCallback | None = None) -> ImportResult:
    """Import the export file at `path`: every good conversation, each skipped one listed with its reason.

    Raises ValidationError when nothing at all could be imported. `progress(ImportProgress)` (plain or
    async) is called after each batch, outside any transaction.
    """
    require(ctx, "workspace.use")
    reading = Reading()
    items = read_export(path, reading)
    ids: list[uuid.UUID] = []
    skipped: list[Skipped] = []
    messages = 0
    try:
        while True:
            batch, problem = await asyncio.to_thread(_take, items, _BATCH)  # CPU-bound parsing: off the loop
            parsed = [c for c in batch if isinstance(c, ParsedConversation)]
            skipped.extend(c for c in batch if isinstance(c, Skipped))
            if parsed:
                messages += await _write(ctx, parsed, ids, skipped)
            if problem is not None:
                if not ids:
                    raise _nothing([Skipped("the file", str(problem)), *skipped]) from problem
                note = f"{problem}. The conversations before it were imported."
                skipped.append(Skipped("the rest of the file", note))
            if not batch and problem is None:
                break
            await _report(
                progress, ImportProgress(len(ids), len(skipped), reading.bytes_read, reading.bytes_total)
            )
            if problem is not None or len(batch) < _BATCH:
                break
    finally:
        await asyncio.to_thread(items.close)  # closes the file (and the zip) in the reading thread's way
    if not ids:
        raise (
            _nothing(skipped)
            if skipped
            else ValidationError("Nothing was imported: the file holds no conversations")
        )
    return ImportResult(
        format="+".join(sorted(reading.formats)),
        conversations=len(ids),
        messages=messages,
        conversation_ids=tuple(ids),
        skipped=tuple(skipped),
    )


def _spool(data: bytes | str) -> Path:
    fd, name = tempfile.mkstemp(prefix="solo-import-", suffix=".upload")
    with os.fdopen(fd, "wb") as f:
        f.write(data.encode() if isinstance(data, str) else data)
    return Path(name)


async def import_conversations(
    ctx: Ctx, data: bytes | str, *, progress: ProgressCallback | None = None
) -> ImportResult:
    """Import an export held in memory (small files; uploads go through `import_file`)."""
    require(ctx, "workspace.use")
    if len(data) > MAX_IMPORT_BYTES:
        raise ValidationError(
            f"Nothing was imported: the file: it is larger than {MAX_IMPORT_BYTES // 2**20} MB"
        )
    path = await asyncio.to_thread(_spool, data)
    try:
        return await import_file(ctx, path, progress=progress)
    finally:
        await asyncio.to_thread(path.unlink, missing_ok=True)
