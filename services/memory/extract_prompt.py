"""What memory extraction sends the memory model and reads back (services/memory/extract.py runs the job):
the new messages as labelled plain text within a token budget, the member's most similar memories, the
instructions and the `save_memory_operations` tool, and the operations parsed from its answer."""

from __future__ import annotations

import json
import logging
import re
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import text

from services.chat.common import MessageInfo
from services.config import get_settings
from services.context import Ctx
from services.db import tenant_session
from services.knowledge.chunk import count_tokens
from services.llm import ChatMessage
from services.memory import store

log = logging.getLogger("solo.memory.extract")

CONTEXT_MEMORIES = 20
CONTEXT_TOKENS = 800
MAX_OPERATIONS = 12
REQUEST_OVERHEAD = 120  # the tags, labels and line breaks around the exchange and the memories
MAX_CONVERSATIONS = 8  # one run reads the newest of this many conversations (the others wait for the next)
TOOL_NAME = "save_memory_operations"
EDITABLE_SOURCES = ("extracted", "imported")
_DATA_URL = re.compile(r"data:[\w/+.-]+;base64,[A-Za-z0-9+/=]+")
_BASE64 = re.compile(r"[A-Za-z0-9+/]{160,}={0,2}")
_BLANK_LINES = re.compile(r"\n{3,}")

INSTRUCTIONS = f"""You keep the long-term memory of an AI assistant about one user, in a coaching workspace.
Read the new part of a conversation and decide what is worth remembering for later conversations.

Keep durable facts the user states about themselves: their business and offer, their audience and clients,
their goals and plans with dates, how they like answers written, their name, role and location.
Do not keep: what only the assistant said, one-off requests, questions, anything already in the memories below,
passwords, keys, card or account numbers, or health details the user did not ask you to keep.

Write each memory as one complete sentence about the user in the third person, starting with "The user"
(for example "The user runs a bakery in Porto."). Give it a category (profile, preference, goal, business, other)
and a short key (a label of a few words).

Call {TOOL_NAME} once with every operation:
- "add": a new fact (text, category, key, and "from": the U-number of the message it comes from);
- "update": an existing memory (its M-number as "id") that changed or is now more precise: its whole new text;
- "delete": an existing memory (its "id") that the user said is no longer true;
- "none": nothing is worth remembering (then it is the only operation).
Memories marked read-only are the user's own: never update or delete them. At most {MAX_OPERATIONS} operations."""

TOOL: dict[str, Any] = {
    "name": TOOL_NAME,
    "description": "Save what to remember about the user: add, update or delete memories, or none.",
    "parameters": {
        "type": "object",
        "properties": {
            "operations": {
                "type": "array",
                "maxItems": MAX_OPERATIONS,
                "items": {
                    "type": "object",
                    "properties": {
                        "op": {"type": "string", "enum": ["add", "update", "delete", "none"]},
                        "id": {"type": "string", "description": "M-number of the memory (update, delete)"},
                        "text": {"type": "string", "description": "The memory: one sentence (add, update)"},
                        "category": {"type": "string", "enum": list(store.MEMORY_CATEGORIES)},
                        "key": {"type": "string", "description": "A short label"},
                        "from": {"type": "string", "description": "U-number of the user's message"},
                    },
                    "required": ["op"],
                },
            }
        },
        "required": ["operations"],
    },
}


# The exchange -----------------------------------------------------------------------------------------------


def clean(value: str) -> str:
    """A message's text without data URLs, base64 runs and runs of blank lines."""
    value = _DATA_URL.sub("[data removed]", value)
    value = _BASE64.sub("[base64 removed]", value)
    return _BLANK_LINES.sub("\n\n", value).strip()


def cut(value: str, max_tokens: int) -> str:
    """`value` within `max_tokens` tokens: its beginning and its end, with "[…]" between, when too long."""
    if max_tokens <= 0:
        return ""
    if len(value) > max_tokens * 8:  # never count a huge text whole
        value = f"{value[: max_tokens * 6]} […] {value[-max_tokens * 2 :]}"
    tokens = count_tokens(value)
    if tokens <= max_tokens:
        return value
    keep = int(len(value) * max_tokens / tokens)
    while keep > 8:
        head, tail = value[: keep * 2 // 3], value[len(value) - keep // 3 :]
        shorter = f"{head.rstrip()} […] {tail.lstrip()}"
        if count_tokens(shorter) <= max_tokens:
            return shorter
        keep = int(keep * 0.85)
    return ""


@dataclass(frozen=True, slots=True)
class Line:
    ref: str  # U1, A1, ... (numbered across the whole request)
    role: str
    text: str
    message_id: uuid.UUID
    conversation_id: uuid.UUID


def exchange(conversations: list[list[MessageInfo]], budget: int) -> list[list[Line]]:
    """Each conversation's new messages as labelled lines, within `budget` tokens in all: a conversation gets a
    share by its number of messages; inside it the newest come first to get room, a user message up to half of
    the share, a reply up to a quarter (facts about the member come from what they write). Oldest first."""
    total = sum(len(c) for c in conversations) or 1
    picked_all: list[list[tuple[MessageInfo, str]]] = []
    for messages in conversations:
        share = max(budget * len(messages) // total, min(budget, 200))
        left, picked = share, []
        for message in reversed(messages):
            cap = share // 2 if message.role == "user" else share // 4
            body = cut(clean(message.text), min(cap, left))
            if body:
                picked.append((message, body))
                left -= count_tokens(body)
            if left < 20:
                break
        picked_all.append(list(reversed(picked)))
    counts = {"user": 0, "assistant": 0}
    out: list[list[Line]] = []
    for picked in picked_all:
        lines = []
        for message, body in picked:
            counts[message.role] += 1
            ref = f"{'U' if message.role == 'user' else 'A'}{counts[message.role]}"
            lines.append(Line(ref, message.role, body, message.id, message.conversation_id))
        if lines:
            out.append(lines)
    return out


@dataclass(frozen=True, slots=True)
class Known:
    """A memory shown to the model."""

    ref: str  # M1, M2, ...
    id: uuid.UUID
    text: str
    category: str
    source: str
    pinned: bool
    tokens: int

    @property
    def editable(self) -> bool:
        return self.source in EDITABLE_SOURCES and not self.pinned


_SIMILAR = text(
    """
    WITH q AS MATERIALIZED (SELECT CAST(:v AS vector) AS v)
    SELECT m.id, m.text, m.category, m.source, m.pinned, m.tokens
    FROM memories m, q
    WHERE m.user_id = :u
    ORDER BY CASE WHEN m.embedding_dim = vector_dims(q.v) THEN m.embedding <=> q.v END NULLS LAST,
             m.updated_at DESC, m.id
    LIMIT :n
    """
)


async def similar_memories(ctx: Ctx, vector: str | None) -> list[Known]:
    """The member's memories closest to the exchange (the most recent without embeddings), within
    CONTEXT_TOKENS."""
    async with tenant_session(ctx.tenant_id) as session:
        rows = (await session.execute(_SIMILAR, {"u": ctx.user_id, "v": vector, "n": CONTEXT_MEMORIES})).all()
    known: list[Known] = []
    used = 0
    for row in rows:
        if used + row.tokens > CONTEXT_TOKENS:
            continue
        used += row.tokens
        known.append(
            Known(f"M{len(known) + 1}", row.id, row.text, row.category, row.source, row.pinned, row.tokens)
        )
    return known


def request(conversations: list[list[Line]], known: list[Known]) -> list[ChatMessage]:
    memories = "\n".join(
        f"[{k.ref}] ({k.category}{'' if k.editable else ', read-only'}) {k.text}" for k in known
    )
    chats = "\n\n".join(
        "<conversation>\n"
        + "\n\n".join(f"[{line.ref}] {line.role}: {line.text}" for line in lines)
        + "\n</conversation>"
        for lines in conversations
    )
    body = f"<memories>\n{memories or '(none yet)'}\n</memories>\n\n{chats}"
    return [ChatMessage("system", INSTRUCTIONS), ChatMessage("user", body)]


def request_bound() -> int:
    """The most tokens an extraction request holds, whatever the conversation."""
    return (
        count_tokens(INSTRUCTIONS)
        + CONTEXT_TOKENS
        + get_settings().memory_extract_input_tokens
        + REQUEST_OVERHEAD
        + 6 * CONTEXT_MEMORIES
        + 8 * MAX_CONVERSATIONS
    )


# The model's answer ----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Operation:
    op: str
    id: str = ""
    text: str = ""
    category: str = "other"
    key: str = ""
    source_ref: str = ""


def _json_object(value: str) -> Any:
    start, end = value.find("{"), value.rfind("}")
    if start < 0 or end <= start:
        raise ValueError("no JSON object in the answer")
    return json.loads(value[start : end + 1])


def operations(tool_arguments: list[str], answer: str) -> list[Operation]:
    """The operations of the tool call(s), else of a JSON object in the answer's text. Malformed ones are
    dropped (a model's bad JSON changes nothing)."""
    raw: list[Any] = []
    sources: list[Any] = []
    for arguments in tool_arguments:
        try:
            sources.append(json.loads(arguments or "{}"))
        except ValueError:
            log.info("the memory model's tool arguments are not JSON")
    if not tool_arguments and answer.strip():
        try:
            sources.append(_json_object(answer))
        except ValueError:
            log.info("the memory model answered without operations")
    for found in sources:
        items = found.get("operations") if isinstance(found, dict) else found
        if isinstance(items, list):
            raw.extend(items)
    out: list[Operation] = []
    for item in raw[:MAX_OPERATIONS]:
        if not isinstance(item, dict) or item.get("op") not in ("add", "update", "delete"):
            continue
        category = item.get("category")
        out.append(
            Operation(
                op=str(item["op"]),
                id=str(item.get("id") or "").strip().strip("[]").upper(),
                text=str(item.get("text") or ""),
                category=category if category in store.MEMORY_CATEGORIES else "other",
                key=str(item.get("key") or ""),
                source_ref=str(item.get("from") or "").strip().strip("[]").upper(),
            )
        )
    return out
