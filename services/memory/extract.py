"""Extraction: what the assistant learns about a member from normal conversation, off the reply's path.

When. The reply turn calls `schedule()` once a reply is stored, for a user message that may say something about
the member (`about_self`: a first-person word, or a long message; "What is a hybrid offer?" schedules nothing).
There is one job per member (dedupe key `memory:<user id>`), across their conversations: each further turn
postpones it by MEMORY_EXTRACT_QUIET_SECONDS (a debounce), and the MEMORY_EXTRACT_EVERY-th pending turn makes it
due at once. So the memory model is asked at most once per EVERY such turns, or once when the member has gone
quiet, however many chats they opened meanwhile. (A turn that ends while the member's job is running schedules
nothing; the next run of that conversation reads its messages.)

What. The job reads, for each conversation of its pending turns (at most MAX_CONVERSATIONS), the branch that ends
at the newest reply, only the messages newer than `conversations.memory_read_at` (what earlier runs read), as text
only (attachments, images, data URLs and base64 runs dropped), all cut to MEMORY_EXTRACT_INPUT_TOKENS; and the
member's memories most similar to it (at most CONTEXT_MEMORIES within CONTEXT_TOKENS). It asks the memory model
(the workspace's choice; else the model of the newest turn's conversation) to call `save_memory_operations` with
add, update (id), delete (id) or none; a JSON object in the text is accepted from a model that answers without
the tool.

Rules. An add nearly the same as a memory the member keeps (cosine similarity >= NEAR_DUPLICATE; without
embeddings, most words shared) updates that memory instead, or does nothing when it says the same. The assistant
updates and deletes only what it extracted (or what was imported): what the member typed, said ("remember that")
or pinned is theirs; the model sees it, marked read-only, so that it does not repeat it. The member's limits
(count, tokens) stop further adds.

Failures. A 4xx from the provider (a bad model or request) fails the job at once; a 429, a 5xx or a broken
connection is retried by the queue's backoff, at most MAX_ATTEMPTS runs of one request each (the provider's own
retries are off here). Nothing changes either way. Every run that reaches the model is recorded in
`memory_extractions`: the operations applied (kinds and ids) or the error.
"""

from __future__ import annotations

import copy
import json
import logging
import re
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, text
from sqlmodel import col

from models import Conversation, MemoryExtraction, User
from models.base import utcnow
from services import ai_catalog
from services.chat.common import MessageInfo
from services.chat.path import chain_above
from services.config import get_settings
from services.context import Ctx
from services.db import global_session, tenant_session
from services.errors import NotFound, ServiceError, ValidationError
from services.jobs.queue import Job, Permanent, Retry, enqueue, handler
from services.knowledge.chunk import count_tokens
from services.knowledge.embed import EmbeddingError, embed, embeddings_config
from services.knowledge.ingest import vector_literal
from services.llm import ChatMessage
from services.llm.base import collect_reply
from services.llm.retry import NO_RETRY
from services.memory import explicit, store
from services.memory.settings import workspace_memory

log = logging.getLogger("solo.memory.extract")

KIND = "memory.extract"
MAX_ATTEMPTS = 3
CONTEXT_MEMORIES = 20
CONTEXT_TOKENS = 800
NEAR_DUPLICATE = 0.9  # cosine similarity at which an added memory is the same as a kept one
NEAR_WORDS = 0.8  # without embeddings: the share of the shorter text's words they have in common
MAX_OPERATIONS = 12
OUTPUT_TOKENS = 800
REQUEST_OVERHEAD = 120  # the tags, labels and line breaks around the exchange and the memories
MAX_CONVERSATIONS = 8  # one run reads the newest of this many conversations (the others wait for the next)
LONG_MESSAGE_WORDS = 60  # a message this long may describe the member without saying "I"
TOOL_NAME = "save_memory_operations"
EDITABLE_SOURCES = ("extracted", "imported")

# Subject and possessive first-person words in the languages members write most: a cheap gate before any model
# call ("Give me three titles" passes nothing; "I coach dentists", "our offer", "je suis coach" do).
_SELF = re.compile(
    r"(?<![\w'])(?:i|i'm|i've|i'd|i'll|my|mine|myself|we|we're|we've|our|ours|je|mon|ma|mes|nous|notre|nos"
    r"|yo|mi|mis|nosotros|nuestro|nuestra|ich|mein|meine|meinen|wir|unser|unsere|eu|meu|minha|meus|minhas|nós"
    r"|nosso|nossa)(?![\w'])|(?<![\w'])j'(?=\w)",
    re.IGNORECASE,
)
# "How do I …", "What should I …", "Can I …": a question about anyone, not about the member.
_GENERIC_I = re.compile(
    r"(?<![\w'])(?:do|does|did|should|shall|can|could|would|will|may|might|must|am)\s+i(?![\w'])",
    re.IGNORECASE,
)
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


def about_self(message: str) -> bool:
    """Whether a user message may tell something about its author (worth a later extraction)."""
    if len(message.split()) >= LONG_MESSAGE_WORDS:
        return True
    return bool(_SELF.search(_GENERIC_I.sub(" ", message)))


# Scheduling -----------------------------------------------------------------------------------------------------

# The member's queued job: count the turn, note the conversation's newest reply (`replies`: [conversation, reply]
# pairs, most recent last, one per conversation), and postpone it by the quiet period, or make it due at once when
# enough turns are pending. `jobs` has no RLS: the key names the member.
_BUMP = text(
    """
    UPDATE jobs SET
        payload = jsonb_build_object(
            'replies', (SELECT coalesce(jsonb_agg(e), '[]'::jsonb) FROM jsonb_array_elements(payload -> 'replies') e
                        WHERE e ->> 0 <> CAST(:c AS text)) || jsonb_build_array(jsonb_build_array(CAST(:c AS text),
                                                                                                  CAST(:r AS text))),
            'turns', coalesce((payload ->> 'turns')::int, 0) + 1),
        run_at = CASE WHEN coalesce((payload ->> 'turns')::int, 0) + 1 >= :every THEN now()
                      ELSE now() + make_interval(secs => :quiet) END,
        updated_at = now()
    WHERE dedupe_key = :key AND status = 'queued'
    RETURNING id
    """
)


def job_key(user_id: uuid.UUID) -> str:
    return f"memory:{user_id}"


async def schedule(ctx: Ctx, conversation_id: uuid.UUID, reply_id: uuid.UUID) -> None:
    """A turn that may teach something ended with the reply `reply_id`: count it towards the member's next
    extraction (one short transaction; no model call here)."""
    settings = get_settings()
    every = max(1, settings.memory_extract_every)
    quiet = max(0.0, settings.memory_extract_quiet_seconds)
    key = job_key(ctx.user_id)
    async with global_session() as session:
        bumped = (
            await session.execute(
                _BUMP,
                {"c": str(conversation_id), "r": str(reply_id), "every": every, "quiet": quiet, "key": key},
            )
        ).scalar()
        if bumped is not None:
            return
        await enqueue(
            KIND,
            {"replies": [[str(conversation_id), str(reply_id)]], "turns": 1},
            tenant_id=ctx.tenant_id,
            user_id=ctx.user_id,
            dedupe_key=key,
            run_at=None if every <= 1 else utcnow() + timedelta(seconds=quiet),
            max_attempts=MAX_ATTEMPTS,
            session=session,
        )


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


# The job ----------------------------------------------------------------------------------------------------


async def _member(tenant_id: uuid.UUID, user_id: uuid.UUID) -> Ctx | None:
    async with tenant_session(tenant_id) as session:
        user = await session.get(User, user_id)
    if user is None or user.status != "active":
        return None
    return Ctx(tenant_id, user_id, user.role)


async def _conversations(ctx: Ctx, ids: list[uuid.UUID]) -> dict[uuid.UUID, tuple[str, datetime | None]]:
    """The member's conversations among `ids` (deleted ones are absent): model key and what was read already."""
    async with tenant_session(ctx.tenant_id) as session:
        rows = (
            await session.execute(
                select(
                    col(Conversation.id),
                    col(Conversation.provider),
                    col(Conversation.model),
                    col(Conversation.memory_read_at),
                ).where(col(Conversation.id).in_(ids), col(Conversation.user_id) == ctx.user_id)
            )
        ).all()
    return {
        r.id: (ai_catalog.model_key(r.provider, r.model) if r.provider and r.model else "", r.memory_read_at)
        for r in rows
    }


async def _mark_read(ctx: Ctx, through: dict[uuid.UUID, datetime]) -> None:
    if not through:
        return
    async with tenant_session(ctx.tenant_id) as session:
        await session.execute(
            text(
                "UPDATE conversations c SET memory_read_at = greatest(c.memory_read_at, v.at) "
                "FROM unnest(CAST(:ids AS uuid[]), CAST(:ats AS timestamptz[])) AS v(id, at) "
                "WHERE c.id = v.id AND c.user_id = :u"
            ),
            {"ids": list(through), "ats": list(through.values()), "u": ctx.user_id},
        )


async def _record(ctx: Ctx, **fields: Any) -> None:
    async with tenant_session(ctx.tenant_id) as session:
        session.add(MemoryExtraction(tenant_id=ctx.tenant_id, user_id=ctx.user_id, **fields))


async def _fresh(
    ctx: Ctx, replies: list[tuple[uuid.UUID, uuid.UUID]], known: dict[uuid.UUID, tuple[str, datetime | None]]
) -> list[list[MessageInfo]]:
    """Each conversation's branch up to its newest reply, only the messages no run has read yet."""
    limit = 2 * max(1, get_settings().memory_extract_every) + 2
    out = []
    for conversation_id, reply_id in replies:
        if conversation_id not in known:
            continue  # deleted meanwhile
        since = known[conversation_id][1]
        try:
            chain, _ = await chain_above(ctx, conversation_id, reply_id, limit=limit)
        except NotFound:
            continue
        fresh = [
            m for m in chain if m.role in ("user", "assistant") and (since is None or m.created_at > since)
        ]
        if any(m.role == "user" for m in fresh):
            out.append(fresh)
    return out


@handler(KIND, timeout=300.0)
async def run(job: Job) -> None:
    if job.tenant_id is None or job.user_id is None:
        raise Permanent("A memory extraction job without a member.")
    ctx = await _member(job.tenant_id, job.user_id)
    if ctx is None or not (await store.memory_state(ctx)).on:
        return  # the member left, or memory was turned off meanwhile: nothing to learn
    replies = [
        (uuid.UUID(str(c)), uuid.UUID(str(r)))
        for c, r in (job.payload.get("replies") or [])[-MAX_CONVERSATIONS:]
    ]
    known = await _conversations(ctx, [c for c, _ in replies])
    chats = await _fresh(ctx, replies, known)
    conversations = exchange(chats, get_settings().memory_extract_input_tokens)
    lines = [line for chat in conversations for line in chat]
    if not any(line.role == "user" for line in lines):
        return
    through = {chat[0].conversation_id: max(m.created_at for m in chat) for chat in chats}
    newest = chats[-1][0].conversation_id  # the conversation of the newest turn names the model when unset
    model_key = (await workspace_memory(ctx.tenant_id)).model or known[newest][0]
    base: dict[str, Any] = {"conversation_ids": list(through), "messages": len(lines), "model": model_key}
    try:
        provider, model, _label = await ai_catalog.provider_for(ctx, model_key)
    except ServiceError as exc:
        await _record(ctx, status="failed", error=f"The memory model cannot be used: {exc}", **base)
        raise Permanent(str(exc)) from exc
    asked = "\n".join(line.text for line in lines if line.role == "user")
    memories = await similar_memories(ctx, await store.vector_of(ctx, asked[:4000]))
    messages = request(conversations, memories)
    base["input_tokens"] = sum(count_tokens(m.content) for m in messages)
    once = copy.copy(provider)  # the same connection pool, without the provider's own retries
    once.retry = NO_RETRY
    reply = await collect_reply(
        once.stream_chat(model, messages, tools=[TOOL], temperature=0, max_tokens=OUTPUT_TOKENS)
    )
    if reply.error is not None:
        error = reply.error
        if error.retryable and not job.last_attempt:
            raise Retry(error.message, delay=error.retry_after)
        await _record(ctx, status="failed", error=error.message[:2000], **base)
        raise Permanent(error.message)
    ops = operations([c.arguments for c in reply.tool_calls if c.name == TOOL_NAME], reply.text)
    applied = await apply(ctx, ops, memories, lines)
    await _mark_read(ctx, through)
    usage = reply.usage
    await _record(
        ctx, status="done", operations=applied,
        prompt_tokens=usage.prompt_tokens if usage else None,
        completion_tokens=usage.completion_tokens if usage else None, **base,
    )  # fmt: skip


async def history(ctx: Ctx) -> list[MemoryExtraction]:
    """The member's extraction runs, newest first (for tests and the operator)."""
    async with tenant_session(ctx.tenant_id) as session:
        rows = await session.execute(
            select(MemoryExtraction)
            .where(col(MemoryExtraction.user_id) == ctx.user_id)
            .order_by(col(MemoryExtraction.created_at).desc())
        )
        return list(rows.scalars())
