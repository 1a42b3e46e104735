"""Import conversations from our JSON export (or its zip archive), ChatGPT's `conversations.json` (or the
zip it comes in) and LibreChat's JSON export (flat `messages` list or the nested `recursive` tree).

The format is detected from the content. Everything is parsed and checked first; then one transaction writes
it all with bulk INSERTs. A bad or partial file raises ValidationError and imports nothing. Message trees
(branches), timestamps, titles, models and, for our format, folders, tags, pins and archive flags are kept.
Imported conversations get new ids, so importing the same file twice gives two copies, never a collision.
"""

from __future__ import annotations

import asyncio
import inspect
import io
import json
import math
import uuid
import zipfile
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlmodel import SQLModel, col
from sqlmodel.ext.asyncio.session import AsyncSession

from models import MESSAGE_ROLES, MESSAGE_STATUSES, Folder, Tag
from models.base import utcnow
from services.auth.roles import require
from services.chat.common import (
    MAX_ERROR_CHARS,
    MAX_FOLDER_CHARS,
    MAX_TAG_CHARS,
    MAX_TITLE_CHARS,
    clean_json,
    one_line,
    strip_nul,
)
from services.chat.conversations import fallback_title
from services.chat.export import ARCHIVE_FORMAT, ARCHIVE_INDEX, FORMAT, VERSION
from services.chat.tree import latest_leaf
from services.context import Ctx
from services.db import tenant_session
from services.errors import ValidationError

MAX_IMPORT_BYTES = 256 * 1024 * 1024  # the file as uploaded
MAX_UNZIPPED_BYTES = 1024 * 1024 * 1024  # what a zip may expand to
LIBRECHAT_NO_PARENT = "00000000-0000-0000-0000-000000000000"
_BATCH = 100  # conversations per bulk insert (and per progress report)

ProgressCallback = Callable[[int, int], Awaitable[None] | None]


@dataclass(frozen=True, slots=True)
class ImportResult:
    format: str  # "solo-chat", "chatgpt", "librechat" (joined with "+" when a zip mixes them)
    conversations: int
    messages: int
    conversation_ids: tuple[uuid.UUID, ...]


@dataclass(slots=True)
class ParsedMessage:
    key: str  # its id in the file
    parent_key: str | None
    role: str
    text: str
    created_at: datetime | None  # None: inherits from its parent (filled in by `_finish`)
    content_parts: list[dict[str, Any]] = field(default_factory=list)
    status: str = "complete"
    error_text: str = ""
    provider: str = ""
    model: str = ""
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    ttft_ms: int | None = None
    duration_ms: int | None = None


@dataclass(slots=True)
class ParsedConversation:
    title: str
    created_at: datetime
    updated_at: datetime
    messages: list[ParsedMessage]
    provider: str = ""
    model: str = ""
    pinned: bool = False
    archived: bool = False
    folder: str | None = None
    tags: list[str] = field(default_factory=list)
    current_key: str | None = None


@dataclass(frozen=True, slots=True)
class _Node:
    id: uuid.UUID
    parent_id: uuid.UUID | None
    created_at: datetime


# Helpers ---------------------------------------------------------------------------------------------------


def _fail(where: str, problem: str) -> ValidationError:
    return ValidationError(f"Nothing was imported: {where}: {problem}")


def _where(index: int, title: Any) -> str:
    if isinstance(title, str) and title.strip():
        return f"conversation {index} (“{one_line(title)[:60]}”)"
    return f"conversation {index}"


def _time(value: Any, where: str, name: str) -> datetime | None:
    """An ISO 8601 string or a Unix timestamp (seconds); None stays None. Naive times are taken as UTC."""
    if value is None or value == "":
        return None
    try:
        if isinstance(value, bool):
            raise ValueError(value)
        if isinstance(value, int | float):
            if not math.isfinite(value):
                raise ValueError(value)
            return datetime.fromtimestamp(value, UTC)
        if isinstance(value, str):
            moment = datetime.fromisoformat(value.strip())
            return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    except (ValueError, OverflowError, OSError):
        pass
    raise _fail(where, f"“{name}” is not a valid date and time: {str(value)[:40]!r}")


def _str(value: Any, where: str, name: str, *, required: bool = False) -> str:
    if value is None and not required:
        return ""
    if not isinstance(value, str):
        raise _fail(where, f"“{name}” must be text")
    return strip_nul(value)


def _count(value: Any, where: str, name: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise _fail(where, f"“{name}” must be a whole number of at least 0")
    return value


def _lenient_count(value: Any) -> int | None:
    """Token counts of other apps are informative only: anything but a whole number is dropped."""
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def _key(value: Any) -> str | None:
    return None if value is None else str(value)


def _obj(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _finish(conversation: ParsedConversation, where: str) -> ParsedConversation:
    """Check the tree (unique ids, known parents, no loops), order it parents first and fill missing times."""
    by_key: dict[str, ParsedMessage] = {}
    for m in conversation.messages:
        if m.key in by_key:
            raise _fail(where, f"two messages have the same id {m.key!r}")
        if m.role not in MESSAGE_ROLES:
            raise _fail(where, f"message {m.key!r} has an unknown role {m.role!r}")
        if m.status not in MESSAGE_STATUSES:
            raise _fail(where, f"message {m.key!r} has an unknown status {m.status!r}")
        by_key[m.key] = m
    children: dict[str | None, list[ParsedMessage]] = {}
    for m in conversation.messages:
        if m.parent_key is not None and m.parent_key not in by_key:
            raise _fail(
                where,
                f"message {m.key!r} answers a message ({m.parent_key!r}) that is not in the file; "
                "the file may be incomplete",
            )
        children.setdefault(m.parent_key, []).append(m)
    ordered: list[ParsedMessage] = []
    queue = deque(children.get(None, []))
    while queue:
        m = queue.popleft()
        ordered.append(m)
        queue.extend(children.get(m.key, []))
    if len(ordered) != len(conversation.messages):
        raise _fail(where, "its messages form a loop (a message is its own ancestor)")
    position = {id(m): i for i, m in enumerate(conversation.messages)}
    for m in ordered:  # parents come first, so a parent's time is known when its child needs it
        if m.created_at is None:
            base = by_key[m.parent_key].created_at if m.parent_key is not None else None
            m.created_at = (base or conversation.created_at) + timedelta(microseconds=position[id(m)] + 1)
        m.text = strip_nul(m.text)
        m.content_parts = clean_json(m.content_parts)
        m.error_text = m.error_text[:MAX_ERROR_CHARS]
        m.provider, m.model = m.provider[:40], m.model[:200]
    conversation.messages = ordered
    title = one_line(conversation.title)
    if not title:
        first = next((m.text for m in ordered if m.role == "user"), "")
        title = fallback_title(first)
    conversation.title = title if len(title) <= MAX_TITLE_CHARS else title[: MAX_TITLE_CHARS - 1] + "…"
    conversation.provider, conversation.model = conversation.provider[:40], conversation.model[:200]
    if conversation.current_key not in by_key:
        conversation.current_key = None
    if conversation.folder is not None:
        conversation.folder = one_line(conversation.folder)[:MAX_FOLDER_CHARS] or None
    conversation.tags = sorted({t for t in (one_line(t)[:MAX_TAG_CHARS] for t in conversation.tags) if t})
    return conversation


# Our format -------------------------------------------------------------------------------------------------


def _parse_solo(doc: dict[str, Any]) -> list[ParsedConversation]:
    version = doc.get("version")
    if version != VERSION:
        raise _fail(
            "the file",
            f"it is format version {version!r} of Solo OS AI exports; this server reads version {VERSION}",
        )
    items = doc.get("conversations")
    if not isinstance(items, list):
        raise _fail("the file", "it has no list of “conversations”")
    out = []
    for i, raw in enumerate(items, 1):
        if not isinstance(raw, dict):
            raise _fail(f"conversation {i}", "it is not an object")
        where = _where(i, raw.get("title"))
        created = _time(raw.get("created_at"), where, "created_at")
        if created is None:
            raise _fail(where, "it has no “created_at”")
        raw_messages = raw.get("messages")
        if not isinstance(raw_messages, list):
            raise _fail(where, "it has no list of “messages”")
        messages = []
        for j, m in enumerate(raw_messages, 1):
            at = f"{where}, message {j}"
            if not isinstance(m, dict):
                raise _fail(at, "it is not an object")
            if not isinstance(m.get("id"), str) or not m["id"]:
                raise _fail(at, "it has no “id”")
            when = _time(m.get("created_at"), at, "created_at")
            if when is None:
                raise _fail(at, "it has no “created_at”")
            parts = m.get("content_parts", [])
            if not isinstance(parts, list) or not all(isinstance(p, dict) for p in parts):
                raise _fail(at, "“content_parts” must be a list of objects")
            messages.append(
                ParsedMessage(
                    key=m["id"],
                    parent_key=_key(m.get("parent_id")),
                    role=_str(m.get("role"), at, "role", required=True),
                    text=_str(m.get("text"), at, "text", required=True),
                    created_at=when,
                    content_parts=parts,
                    status=_str(m.get("status", "complete"), at, "status"),
                    error_text=_str(m.get("error_text"), at, "error_text"),
                    provider=_str(m.get("provider"), at, "provider"),
                    model=_str(m.get("model"), at, "model"),
                    prompt_tokens=_count(m.get("prompt_tokens"), at, "prompt_tokens"),
                    completion_tokens=_count(m.get("completion_tokens"), at, "completion_tokens"),
                    ttft_ms=_count(m.get("ttft_ms"), at, "ttft_ms"),
                    duration_ms=_count(m.get("duration_ms"), at, "duration_ms"),
                )
            )
        tags = raw.get("tags") or []
        if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
            raise _fail(where, "“tags” must be a list of names")
        folder = raw.get("folder")
        conversation = ParsedConversation(
            title=_str(raw.get("title"), where, "title"),
            created_at=created,
            updated_at=_time(raw.get("updated_at"), where, "updated_at") or created,
            messages=messages,
            provider=_str(raw.get("provider"), where, "provider"),
            model=_str(raw.get("model"), where, "model"),
            pinned=raw.get("pinned") is True,
            archived=raw.get("archived") is True,
            folder=_str(folder, where, "folder") if folder is not None else None,
            tags=tags,
            current_key=_key(raw.get("current_leaf_id")),
        )
        out.append(_finish(conversation, where))
    return out


# ChatGPT ----------------------------------------------------------------------------------------------------

_ATTACHMENT_KEYS = ("content_type", "asset_pointer", "name", "mime_type", "size_bytes", "width", "height")


def _chatgpt_content(content: Any) -> tuple[str, list[dict[str, Any]]]:
    if not isinstance(content, dict):
        return "", []
    texts: list[str] = []
    parts: list[dict[str, Any]] = []
    if isinstance(content.get("parts"), list):
        for part in content["parts"]:
            if isinstance(part, str):
                texts.append(part)
            elif isinstance(part, dict):
                if isinstance(part.get("text"), str) and part.get("content_type") in (None, "text"):
                    texts.append(part["text"])
                else:
                    attachment = {k: part[k] for k in _ATTACHMENT_KEYS if k in part}
                    parts.append({"type": "attachment", "source": "chatgpt", **attachment})
    elif isinstance(content.get("text"), str):  # code, execution_output, tether_quote, ...
        texts.append(content["text"])
        if content.get("content_type") == "code":
            parts.append({"type": "code", "language": str(content.get("language") or "")})
    elif isinstance(content.get("result"), str):  # tether_browsing_display
        texts.append(content["result"])
    return "\n\n".join(t for t in texts if t), parts


def _chatgpt_message(raw: Any, key: str, where: str) -> ParsedMessage | None:
    """A kept message, or None for structural nodes and what ChatGPT itself does not show."""
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise _fail(where, f"node {key!r} has a message that is not an object")
    author = _obj(raw.get("author"))
    role = author.get("role")
    metadata = _obj(raw.get("metadata"))
    if role not in MESSAGE_ROLES or metadata.get("is_visually_hidden_from_conversation"):
        return None
    text, parts = _chatgpt_content(raw.get("content"))
    if not text.strip() and not parts:
        return None
    recipient = raw.get("recipient")
    if role == "assistant" and isinstance(recipient, str) and recipient != "all":
        parts.append({"type": "tool_call", "name": recipient})
    if role == "tool":
        parts.insert(0, {"type": "tool_result", "name": str(author.get("name") or "")})
    finish = _obj(metadata.get("finish_details"))
    unfinished = raw.get("status") == "in_progress" or finish.get("type") == "interrupted"
    model = metadata.get("model_slug")
    return ParsedMessage(
        key=key,
        parent_key=None,
        role=role,
        text=text,
        created_at=_time(raw.get("create_time"), where, "create_time"),
        content_parts=parts,
        status="unfinished" if unfinished else "complete",
        provider="openai" if role == "assistant" else "",
        model=model if isinstance(model, str) and role == "assistant" else "",
    )


def _nearest_kept(
    nodes: dict[str, dict[str, Any]],
    kept: dict[str, ParsedMessage],
    start: str | None,
    origin: str,
    where: str,
) -> str | None:
    """`start` or its closest ancestor that is kept (structural, hidden and empty nodes are skipped)."""
    seen: set[str] = set()
    node_key = start
    while node_key is not None:
        if node_key not in nodes:
            raise _fail(
                where,
                f"message {origin!r} answers a message ({node_key!r}) that is not in the file; "
                "the file may be incomplete",
            )
        if node_key in kept:
            return node_key
        if node_key in seen:
            raise _fail(where, "its messages form a loop (a message is its own ancestor)")
        seen.add(node_key)
        node_key = _key(nodes[node_key].get("parent"))
    return None


def _parse_chatgpt(items: list[Any]) -> list[ParsedConversation]:
    out = []
    for i, raw in enumerate(items, 1):
        if not isinstance(raw, dict) or not isinstance(raw.get("mapping"), dict):
            raise _fail(_where(i, None), "it has no “mapping” of messages")
        where = _where(i, raw.get("title"))
        created = _time(raw.get("create_time"), where, "create_time") or utcnow()
        nodes: dict[str, dict[str, Any]] = {}
        for key, node in raw["mapping"].items():
            if not isinstance(node, dict):
                raise _fail(where, f"node {key!r} is not an object")
            nodes[str(key)] = node
        kept: dict[str, ParsedMessage] = {}
        for key, node in nodes.items():
            message = _chatgpt_message(node.get("message"), key, where)
            if message is not None:
                kept[key] = message

        for key, message in kept.items():
            message.parent_key = _nearest_kept(nodes, kept, _key(nodes[key].get("parent")), key, where)
        current = _key(raw.get("current_node"))
        current_key = (
            _nearest_kept(nodes, kept, current, current, where)
            if current is not None and current in nodes
            else None
        )
        models = [m.model for m in kept.values() if m.model]
        default_model = raw.get("default_model_slug")
        conversation = ParsedConversation(
            title=_text(raw.get("title")),
            created_at=created,
            updated_at=_time(raw.get("update_time"), where, "update_time") or created,
            messages=list(kept.values()),
            provider="openai",
            model=default_model if isinstance(default_model, str) else (models[-1] if models else ""),
            archived=raw.get("is_archived") is True,
            current_key=current_key,
        )
        out.append(_finish(conversation, where))
    return out


# LibreChat --------------------------------------------------------------------------------------------------


def _librechat_text(m: dict[str, Any]) -> tuple[str, list[dict[str, Any]]]:
    if isinstance(m.get("text"), str) and m["text"].strip():
        return m["text"], []
    texts: list[str] = []
    parts: list[dict[str, Any]] = []
    for part in m.get("content") or []:
        if not isinstance(part, dict):
            continue
        value = part.get("text")
        if part.get("type") == "text" and isinstance(value, dict):
            value = value.get("value")
        if part.get("type") == "text" and isinstance(value, str):
            texts.append(value)
        elif part.get("type"):
            parts.append({"type": str(part["type"]), "source": "librechat"})
    return "\n\n".join(t for t in texts if t), parts


def _parse_librechat_one(doc: dict[str, Any], index: int) -> ParsedConversation:
    where = _where(index, doc.get("title"))
    raw = doc.get("messagesTree") if isinstance(doc.get("messagesTree"), list) else doc.get("messages")
    if not isinstance(raw, list):
        raise _fail(where, "it has no list of “messages”")
    nested = doc.get("recursive") is True or any(isinstance(m, dict) and "children" in m for m in raw)
    flat: list[tuple[dict[str, Any], str | None]] = []  # (message, parent id from the nesting)
    stack: list[tuple[Any, str | None]] = [(m, None) for m in reversed(raw)]
    while stack:
        m, parent = stack.pop()
        if not isinstance(m, dict):
            raise _fail(where, "a message is not an object")
        flat.append((m, parent))
        children = m.get("children") or []
        if nested and not isinstance(children, list):
            raise _fail(where, "“children” must be a list of messages")
        if nested:
            stack.extend((child, _key(m.get("messageId"))) for child in reversed(children))
    skipped: dict[str, str | None] = {}  # empty messages are left out; their children move up
    messages: list[ParsedMessage] = []
    options = _obj(doc.get("options"))
    endpoint = doc.get("endpoint") or options.get("endpoint") or ""
    for n, (m, nesting_parent) in enumerate(flat, 1):
        key = _key(m.get("messageId"))
        if not key:
            raise _fail(where, f"message {n} has no “messageId”")
        parent = nesting_parent if nested else _key(m.get("parentMessageId"))
        if parent in ("", LIBRECHAT_NO_PARENT):
            parent = None
        text, parts = _librechat_text(m)
        if not text.strip() and not parts:
            skipped[key] = parent
            continue
        user = m.get("isCreatedByUser") is True or ("isCreatedByUser" not in m and m.get("sender") == "User")
        status = (
            "error" if m.get("error") is True else "unfinished" if m.get("unfinished") is True else "complete"
        )
        messages.append(
            ParsedMessage(
                key=key,
                parent_key=parent,
                role="user" if user else "assistant",
                text=text,
                created_at=_time(m.get("createdAt"), where, "createdAt"),
                content_parts=parts,
                status=status,
                error_text="The reply failed in LibreChat." if status == "error" else "",
                provider="" if user else str(m.get("endpoint") or endpoint),
                model="" if user else str(m.get("model") or ""),
                prompt_tokens=None if user else _lenient_count(m.get("promptTokens")),
                completion_tokens=None if user else _lenient_count(m.get("tokenCount")),
            )
        )
    for m in messages:  # re-attach children of skipped messages to the nearest kept ancestor
        seen: set[str] = set()
        while m.parent_key in skipped and m.parent_key not in seen:
            seen.add(m.parent_key)
            m.parent_key = skipped[m.parent_key]
    times = [m.created_at for m in messages if m.created_at is not None]
    created = (
        _time(doc.get("createdAt"), where, "createdAt")
        or _time(options.get("createdAt"), where, "createdAt")
        or (min(times) if times else utcnow())
    )
    updated = (
        _time(doc.get("updatedAt"), where, "updatedAt")
        or _time(options.get("updatedAt"), where, "updatedAt")
        or (max(times) if times else created)
    )
    models = [m.model for m in messages if m.model]
    model = doc.get("model") or options.get("model") or (models[-1] if models else "")
    conversation = ParsedConversation(
        title=_text(doc.get("title")),
        created_at=created,
        updated_at=updated,
        messages=messages,
        provider=str(endpoint),
        model=str(model),
    )
    return _finish(conversation, where)


# Detection ----------------------------------------------------------------------------------------------------

UNKNOWN_FORMAT = (
    "this is not a conversation export we can read. Use a Solo OS AI export (JSON or zip), ChatGPT's "
    "conversations.json (or the zip ChatGPT emails you), or a LibreChat JSON export"
)


def parse_document(doc: Any, source: str = "the file") -> tuple[str, list[ParsedConversation]]:
    """(format, conversations) of one decoded JSON document."""
    if isinstance(doc, dict) and doc.get("format") == FORMAT:
        return FORMAT, _parse_solo(doc)
    if isinstance(doc, dict) and doc.get("format") == ARCHIVE_FORMAT:
        raise _fail(source, "this is the index of an archive: import the whole zip file instead")
    if isinstance(doc, dict) and "conversationId" in doc:
        return "librechat", [_parse_librechat_one(doc, 1)]
    if isinstance(doc, dict) and isinstance(doc.get("mapping"), dict):
        return "chatgpt", _parse_chatgpt([doc])
    if isinstance(doc, list):
        if not doc:
            raise _fail(source, "it holds no conversations")
        if all(isinstance(c, dict) and "mapping" in c for c in doc):
            return "chatgpt", _parse_chatgpt(doc)
        if all(isinstance(c, dict) and "conversationId" in c for c in doc):
            return "librechat", [_parse_librechat_one(c, i) for i, c in enumerate(doc, 1)]
        if isinstance(doc[0], dict) and "mapping" in doc[0]:
            return "chatgpt", _parse_chatgpt(doc)  # reports which entry is broken
    raise _fail(source, UNKNOWN_FORMAT)


def _decode(data: bytes | str, source: str) -> Any:
    try:
        return json.loads(data)
    except UnicodeDecodeError as exc:
        raise _fail(source, "it is not UTF-8 text (nor a zip file)") from exc
    except json.JSONDecodeError as exc:
        raise _fail(
            source,
            f"it is not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg}); it may be cut short",
        ) from exc
    except RecursionError as exc:
        raise _fail(source, "it is nested too deeply") from exc


def _parse_zip(data: bytes) -> tuple[str, list[ParsedConversation]]:
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        infos = [i for i in archive.infolist() if not i.is_dir() and i.filename.lower().endswith(".json")]
        if sum(i.file_size for i in infos) > MAX_UNZIPPED_BYTES:
            raise _fail("the zip file", f"it expands to more than {MAX_UNZIPPED_BYTES // 2**20} MB")
        chatgpt = [i for i in infos if i.filename.rsplit("/", 1)[-1] == "conversations.json"]
        members = chatgpt[:1] or [i for i in infos if i.filename.rsplit("/", 1)[-1] != ARCHIVE_INDEX]
        if not members:
            raise _fail("the zip file", "it holds no conversation export (no .json file)")
        formats: list[str] = []
        conversations: list[ParsedConversation] = []
        for info in sorted(members, key=lambda i: i.filename):
            fmt, parsed = parse_document(_decode(archive.read(info), info.filename), info.filename)
            formats.append(fmt)
            conversations.extend(parsed)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, NotImplementedError) as exc:
        raise _fail("the zip file", f"it cannot be read ({exc}); it may be damaged or cut short") from exc
    return "+".join(sorted(set(formats))), conversations


def parse_export(data: bytes | str) -> tuple[str, list[ParsedConversation]]:
    """Detect the format and parse everything; raises ValidationError on anything we cannot import."""
    if len(data) > MAX_IMPORT_BYTES:
        raise _fail("the file", f"it is larger than {MAX_IMPORT_BYTES // 2**20} MB")
    if isinstance(data, bytes) and data[:4] == b"PK\x03\x04":
        fmt, conversations = _parse_zip(data)
    else:
        fmt, conversations = parse_document(_decode(data, "the file"))
    if not conversations:
        raise _fail("the file", "it holds no conversations")
    return fmt, conversations


# Writing ----------------------------------------------------------------------------------------------------


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


async def _report(progress: ProgressCallback | None, done: int, total: int) -> None:
    if progress is not None:
        result = progress(done, total)
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


async def import_conversations(
    ctx: Ctx, data: bytes | str, *, progress: ProgressCallback | None = None
) -> ImportResult:
    """Import an export file (bytes as uploaded). All or nothing.

    `progress(done, total)` (plain or async) is called with the number of conversations written so far; it
    runs inside the import's transaction, so keep it quick (update a progress bar, nothing more).
    """
    require(ctx, "workspace.use")
    fmt, parsed = await asyncio.to_thread(parse_export, data)  # CPU-bound: keep the event loop free
    total = len(parsed)
    tables = SQLModel.metadata.tables
    await _report(progress, 0, total)
    conversation_ids: list[uuid.UUID] = []
    message_count = 0
    async with tenant_session(ctx.tenant_id) as session:
        folder_ids = await _ensure_named(session, ctx, Folder, {c.folder for c in parsed if c.folder})
        tag_ids = await _ensure_named(session, ctx, Tag, {t for c in parsed for t in c.tags})
        for start in range(0, total, _BATCH):
            conversation_rows: list[dict[str, Any]] = []
            message_rows: list[dict[str, Any]] = []
            tag_rows: list[dict[str, Any]] = []
            for conversation in parsed[start : start + _BATCH]:
                row, messages, tags = _rows(ctx, conversation, folder_ids, tag_ids)
                conversation_rows.append(row)
                message_rows.extend(messages)
                tag_rows.extend(tags)
            await session.execute(insert(tables["conversations"]), conversation_rows)
            if message_rows:
                await session.execute(insert(tables["messages"]), message_rows)
            if tag_rows:
                await session.execute(insert(tables["conversation_tags"]), tag_rows)
            conversation_ids.extend(r["id"] for r in conversation_rows)
            message_count += len(message_rows)
            await _report(progress, len(conversation_ids), total)
    return ImportResult(
        format=fmt, conversations=total, messages=message_count, conversation_ids=tuple(conversation_ids)
    )
