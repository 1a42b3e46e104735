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
import logging
import re
import uuid
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
from services.errors import NotFound, ServiceError
from services.jobs.queue import Job, Permanent, Retry, enqueue, handler
from services.knowledge.chunk import count_tokens
from services.llm.base import collect_reply
from services.llm.retry import NO_RETRY
from services.memory import store
from services.memory.extract_apply import apply
from services.memory.extract_prompt import (
    MAX_CONVERSATIONS,
    TOOL,
    TOOL_NAME,
    exchange,
    operations,
    request,
    similar_memories,
)
from services.memory.settings import workspace_memory

log = logging.getLogger("solo.memory.extract")

KIND = "memory.extract"
MAX_ATTEMPTS = 3
OUTPUT_TOKENS = 800
LONG_MESSAGE_WORDS = 60  # a message this long may describe the member without saying "I"

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
