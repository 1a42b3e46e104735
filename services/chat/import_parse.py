"""Parse one conversation of an export, whatever app wrote it: ours, ChatGPT's or LibreChat's.

Each `parse_*_one` takes one decoded conversation (plain JSON values) and returns a checked
`ParsedConversation` (tree ordered parents first, times filled in, text cleaned) or raises ValidationError
saying what is wrong with that conversation. `import_stream` feeds them one at a time from the file.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from models import MESSAGE_ROLES, MESSAGE_STATUSES
from models.base import utcnow
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
from services.chat.export import VERSION
from services.errors import ValidationError

LIBRECHAT_NO_PARENT = "00000000-0000-0000-0000-000000000000"
MAX_PARTS_DEPTH = 32  # nesting of a message's content_parts (stored as jsonb)
_MAX_INT = 2**31 - 1  # the integer columns


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


# Helpers ---------------------------------------------------------------------------------------------------


def _fail(where: str, problem: str) -> ValidationError:
    return ValidationError(f"{where}: {problem}")


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
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= _MAX_INT:
        raise _fail(where, f"“{name}” must be a whole number from 0 to {_MAX_INT}")
    return value


def _lenient_count(value: Any) -> int | None:
    """Token counts of other apps are informative only: anything but a whole number is dropped."""
    ok = isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= _MAX_INT
    return value if ok else None


def _key(value: Any) -> str | None:
    return None if value is None else str(value)


def _obj(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def unlink_files(parts: list[Any]) -> list[Any]:
    """Attachments and citations keep their names, pages and snippets, but not their file links: the ids named a
    file of the exporting workspace (or of someone else) and must not point at anything here. The record of the
    memories a reply used goes: its ids are the exporting member's."""
    return [
        {**p, "file_id": None, "chunk_id": None}
        if isinstance(p, dict) and p.get("type") in ("file", "citation")
        else p
        for p in parts
        if not (isinstance(p, dict) and p.get("type") == "memories")  # another member's memory ids
    ]


def _too_deep(value: Any, limit: int) -> bool:
    """Whether lists/objects nest deeper than `limit` (checked without recursion)."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list):
            if depth > limit:
                return True
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, depth + 1) for child in children)
    return False


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
        if _too_deep(m.content_parts, MAX_PARTS_DEPTH):
            raise _fail(
                where, f"message {m.key!r} has content nested more than {MAX_PARTS_DEPTH} levels deep"
            )
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
        m.content_parts = unlink_files(clean_json(m.content_parts))
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


def solo_version_problem(version: Any) -> str | None:
    if version != VERSION:
        return f"it is format version {version!r} of Solo OS AI exports; this server reads version {VERSION}"
    return None


def parse_solo_one(raw: Any, i: int) -> ParsedConversation:
    """One entry of the “conversations” list of our format."""
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
    return _finish(conversation, where)


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


def parse_chatgpt_one(raw: Any, i: int) -> ParsedConversation:
    """One conversation of ChatGPT's conversations.json."""
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
    return _finish(conversation, where)


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


def parse_librechat_one(doc: dict[str, Any], index: int) -> ParsedConversation:
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
