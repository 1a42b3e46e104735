"""Export: one conversation as Markdown (the visible branch) or JSON (the whole tree); everything as a zip.

The JSON format is ours and versioned:

    {"format": "solo-chat", "version": 1, "exported_at": ISO-8601,
     "conversations": [{"id", "title", "provider", "model", "folder": name|null, "tags": [names],
                        "pinned", "archived", "created_at", "updated_at", "current_leaf_id",
                        "messages": [{"id", "parent_id", "role", "text", "content_parts", "status",
                                      "error_text", "provider", "model", "prompt_tokens",
                                      "completion_tokens", "ttft_ms", "duration_ms", "created_at"}]}]}

Timestamps are ISO 8601 with offset and microseconds, so an export imported again keeps them exactly.
The zip holds one such document per conversation under `conversations/` and an `index.json`.
"""

from __future__ import annotations

import asyncio
import json
import re
import uuid
import zipfile
from collections.abc import AsyncIterator, Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select, tuple_
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from models import Conversation, ConversationTag, Folder, Message, Tag
from models.base import utcnow
from services.auth.roles import require
from services.chat.common import (
    CONVERSATION_COLUMNS,
    MESSAGE_COLUMNS,
    ConversationInfo,
    MessageInfo,
    conversation_info,
    load_conversation,
    message_info,
)
from services.chat.tree import branch_path
from services.context import Ctx
from services.db import tenant_session

FORMAT = "solo-chat"
VERSION = 1
ARCHIVE_FORMAT = "solo-chat-archive"
ARCHIVE_INDEX = "index.json"
_BATCH = 50  # conversations per query and per hand-off to the zip-writing thread


def _iso(moment: datetime) -> str:
    return moment.isoformat()


def _id(value: uuid.UUID | None) -> str | None:
    return str(value) if value is not None else None


def message_document(m: MessageInfo) -> dict[str, Any]:
    return {
        "id": str(m.id),
        "parent_id": _id(m.parent_id),
        "role": m.role,
        "text": m.text,
        "content_parts": list(m.content_parts),
        "status": m.status,
        "error_text": m.error_text,
        "provider": m.provider,
        "model": m.model,
        "prompt_tokens": m.prompt_tokens,
        "completion_tokens": m.completion_tokens,
        "ttft_ms": m.ttft_ms,
        "duration_ms": m.duration_ms,
        "created_at": _iso(m.created_at),
    }


def conversation_document(
    c: ConversationInfo, messages: Iterable[MessageInfo], folder: str | None, tags: Sequence[str]
) -> dict[str, Any]:
    return {
        "id": str(c.id),
        "title": c.title,
        "provider": c.provider,
        "model": c.model,
        "folder": folder,
        "tags": sorted(tags),
        "pinned": c.pinned,
        "archived": c.archived,
        "created_at": _iso(c.created_at),
        "updated_at": _iso(c.updated_at),
        "current_leaf_id": _id(c.current_leaf_id),
        "messages": [message_document(m) for m in messages],
    }


def document(conversations: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "format": FORMAT,
        "version": VERSION,
        "exported_at": _iso(utcnow()),
        "conversations": conversations,
    }


def json_bytes(doc: dict[str, Any]) -> bytes:
    """The export as a UTF-8 file."""
    return json.dumps(doc, ensure_ascii=False, indent=2).encode()


async def _names(
    session: AsyncSession, user_id: uuid.UUID, conversation_ids: Sequence[uuid.UUID] | None
) -> tuple[dict[uuid.UUID, str], dict[uuid.UUID, list[str]]]:
    """Folder names by id, and tag names by conversation id."""
    folders = {
        r.id: r.name
        for r in await session.execute(
            select(col(Folder.id), col(Folder.name)).where(col(Folder.user_id) == user_id)
        )
    }
    stmt = (
        select(col(ConversationTag.conversation_id), col(Tag.name))
        .join(Tag, col(Tag.id) == col(ConversationTag.tag_id))
        .where(col(Tag.user_id) == user_id)
    )
    if conversation_ids is not None:
        stmt = stmt.where(col(ConversationTag.conversation_id).in_(conversation_ids))
    tags: dict[uuid.UUID, list[str]] = {}
    for r in await session.execute(stmt):
        tags.setdefault(r.conversation_id, []).append(r.name)
    return folders, tags


async def _messages_of(session: AsyncSession, conversation_ids: Sequence[uuid.UUID]) -> list[MessageInfo]:
    rows = await session.execute(
        select(*MESSAGE_COLUMNS)
        .where(col(Message.conversation_id).in_(conversation_ids))
        .order_by(col(Message.conversation_id), col(Message.created_at), col(Message.id))
    )
    return [message_info(r) for r in rows]


async def _load_one(
    ctx: Ctx, conversation_id: uuid.UUID
) -> tuple[ConversationInfo, list[MessageInfo], str | None, list[str]]:
    async with tenant_session(ctx.tenant_id) as session:
        conversation = await load_conversation(session, ctx.user_id, conversation_id)
        messages = await _messages_of(session, [conversation_id])
        folders, tags = await _names(session, ctx.user_id, [conversation_id])
    folder = folders.get(conversation.folder_id) if conversation.folder_id else None
    return conversation, messages, folder, tags.get(conversation_id, [])


async def export_json(ctx: Ctx, conversation_id: uuid.UUID) -> dict[str, Any]:
    """One conversation, every branch, in our JSON format (`json_bytes(doc)` makes the file)."""
    require(ctx, "workspace.use")
    conversation, messages, folder, tags = await _load_one(ctx, conversation_id)
    return document([conversation_document(conversation, messages, folder, tags)])


def _when(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def _tools_markdown(m: MessageInfo) -> list[str]:
    """An agent reply's tool calls, each with its arguments and result (or error), before its text."""
    out: list[str] = []
    for p in m.content_parts:
        if p.get("type") != "tool_call" or "status" not in p:
            continue
        arguments = p.get("arguments")
        shown = arguments if isinstance(arguments, str) else json.dumps(arguments or {}, ensure_ascii=False)
        outcome = f"error: {p.get('error')}" if p.get("error") else str(p.get("result") or "")
        outcome = " ".join(outcome.split())
        if len(outcome) > 500:
            outcome = outcome[:499] + "…"
        out.append(f"> 🔧 **{p.get('name')}** `{shown}` → {outcome or p.get('status')}")
    return [*out, ""] if out else []


def _parts_markdown(m: MessageInfo) -> list[str]:
    """Attachments ("Attached: a.pdf, b.png") and the numbered sources of a reply."""
    files = [str(p.get("name") or "file") for p in m.content_parts if p.get("type") == "file"]
    cited = [p for p in m.content_parts if p.get("type") == "citation"]
    out: list[str] = []
    if files:
        out += [f"_Attached: {', '.join(files)}_", ""]
    if cited:
        out += ["**Sources**", ""]
        for p in cited:
            page = f", page {p['page']}" if isinstance(p.get("page"), int) else ""
            snippet = " ".join(str(p.get("snippet") or "").split())
            out.append(f"{p.get('n')}. {p.get('name') or 'file'}{page}" + (f": {snippet}" if snippet else ""))
        out.append("")
    return out


async def export_markdown(ctx: Ctx, conversation_id: uuid.UUID) -> str:
    """The branch the user sees, as Markdown."""
    require(ctx, "workspace.use")
    conversation, messages, _, _ = await _load_one(ctx, conversation_id)
    about = [f"Exported {_when(utcnow())}"]
    if conversation.model:
        about.append(f"model {conversation.model}")
    lines = [f"# {conversation.title}", "", f"_{' · '.join(about)}_", ""]
    names = {"user": "You", "assistant": "Assistant", "system": "System", "tool": "Tool"}
    for step in branch_path(messages, conversation.current_leaf_id):
        m = step.message
        heading = names.get(m.role, m.role.title())
        if m.role == "assistant" and m.model:
            heading += f" ({m.model})"
        lines += [f"## {heading}", "", f"_{_when(m.created_at)}_", ""]
        lines += _tools_markdown(m)
        if m.text:
            lines += [m.text, ""]
        lines += _parts_markdown(m)
        if m.status == "unfinished":
            lines += [f"> **Unfinished reply.** {m.error_text}".rstrip(), ""]
        elif m.status == "error":
            lines += [f"> **The reply failed.** {m.error_text}".rstrip(), ""]
    return "\n".join(lines).rstrip() + "\n"


def _slug(title: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")[:40] or "chat"


def _member(c: ConversationInfo) -> str:
    return f"conversations/{c.created_at:%Y-%m-%d}-{_slug(c.title)}-{c.id.hex[:8]}.json"


def _write_members(
    archive: zipfile.ZipFile, documents: list[tuple[ConversationInfo, int, dict[str, Any]]]
) -> list[dict[str, Any]]:
    """Add a batch of conversation documents to the archive; their index entries."""
    index = []
    for c, messages, doc in documents:
        name = _member(c)
        archive.writestr(name, json_bytes(doc))
        index.append(
            {
                "id": str(c.id),
                "title": c.title,
                "file": name,
                "created_at": _iso(c.created_at),
                "updated_at": _iso(c.updated_at),
                "messages": messages,
            }
        )
    return index


def _write_index(archive: zipfile.ZipFile, index: list[dict[str, Any]]) -> None:
    summary = {
        "format": ARCHIVE_FORMAT,
        "version": VERSION,
        "exported_at": _iso(utcnow()),
        "conversations": index,
    }
    archive.writestr(ARCHIVE_INDEX, json_bytes(summary))


async def _batches(session: AsyncSession, user_id: uuid.UUID) -> AsyncIterator[list[ConversationInfo]]:
    """The user's conversations, oldest first, a page at a time (keyset pagination)."""
    after: tuple[datetime, uuid.UUID] | None = None
    while True:
        stmt = select(*CONVERSATION_COLUMNS).where(col(Conversation.user_id) == user_id)
        if after is not None:
            stmt = stmt.where(tuple_(col(Conversation.created_at), col(Conversation.id)) > tuple_(*after))
        rows = await session.execute(
            stmt.order_by(col(Conversation.created_at), col(Conversation.id)).limit(_BATCH)
        )
        batch = [conversation_info(r) for r in rows]
        if not batch:
            return
        yield batch
        after = (batch[-1].created_at, batch[-1].id)


async def write_archive(ctx: Ctx, path: Path) -> int:
    """Write every conversation of the user to a zip at `path`: one JSON document each under
    `conversations/`, plus `index.json`. Memory holds one batch at a time; compression runs in a worker
    thread. Returns the number of conversations."""
    require(ctx, "workspace.use")
    archive = await asyncio.to_thread(zipfile.ZipFile, path, "w", zipfile.ZIP_DEFLATED)
    index: list[dict[str, Any]] = []
    try:
        async with tenant_session(ctx.tenant_id) as session:  # one transaction for the whole archive
            async for batch in _batches(session, ctx.user_id):
                folders, tags = await _names(session, ctx.user_id, [c.id for c in batch])
                by_conversation: dict[uuid.UUID, list[MessageInfo]] = {c.id: [] for c in batch}
                for m in await _messages_of(session, [c.id for c in batch]):
                    by_conversation[m.conversation_id].append(m)
                documents = []
                for c in batch:
                    folder = folders.get(c.folder_id) if c.folder_id else None
                    conversation = conversation_document(
                        c, by_conversation.pop(c.id), folder, tags.get(c.id, [])
                    )
                    documents.append((c, len(conversation["messages"]), document([conversation])))
                index.extend(await asyncio.to_thread(_write_members, archive, documents))
        await asyncio.to_thread(_write_index, archive, index)
    finally:
        await asyncio.to_thread(archive.close)
    return len(index)


def conversation_filename(title: str, fmt: str) -> str:
    return f"{_slug(title)}.{'md' if fmt == 'md' else 'json'}"


async def write_conversation(ctx: Ctx, conversation_id: uuid.UUID, fmt: str, path: Path) -> None:
    """One conversation as Markdown (`fmt="md"`) or JSON, written to `path` in a worker thread."""
    if fmt == "md":
        data = (await export_markdown(ctx, conversation_id)).encode()
    else:
        data = json_bytes(await export_json(ctx, conversation_id))
    await asyncio.to_thread(path.write_bytes, data)
