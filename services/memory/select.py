"""Which memories go into a reply, and how they are written into the request.

`choose(ctx, question)`: the member's pinned memories always (most recently changed first), then the others by
relevance to the latest user message: cosine similarity of the embeddings when the tenant has an embeddings model
(nudged by recency: a memory used or changed lately wins a near tie), by recency alone when not. They are packed
in that order within `MEMORY_TOKEN_BUDGET` tokens, skipping any that does not fit. One query, exact over the
member's memories (a few hundred at most: no index needed).

`block(memories)` is one delimited system message. The turn puts it after the workspace's and the agent's
instructions and before the knowledge sources, so memory never replaces a system prompt.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import text

from services.config import get_settings
from services.context import Ctx
from services.db import tenant_session

RECENCY_DAYS = 30.0  # a memory changed or used this many days ago has lost half of its recency bonus
RECENCY_WEIGHT = 0.05  # at most this much similarity is added for being recent
MIN_TOKENS = 2  # a sentence has a word and its full stop: a budget of B tokens holds at most B / 2 memories

# Scored in Postgres: similarity (0 without embeddings) plus a recency bonus that halves every RECENCY_DAYS since
# the memory was changed or used; only the best rows that could fit a budget come back (a memory has a few tokens
# at least). Exact over the member's rows (ix_memories_user_recent finds them). The question's vector is parsed
# once (a MATERIALIZED CTE): a cast of the parameter in the select list would parse the text again for every row
# once Postgres uses a generic plan for the prepared statement. The recency is float arithmetic: `extract` gives a
# numeric, whose power() costs more than the similarity itself.
CANDIDATES = text(
    f"""
WITH q AS MATERIALIZED (SELECT CAST(:v AS vector) AS v)
SELECT m.id, m.text, m.category, m.pinned, m.tokens,
       coalesce(CASE WHEN m.embedding_dim = vector_dims(q.v) THEN 1 - (m.embedding <=> q.v) END, 0)
       + {RECENCY_WEIGHT} * power(0.5::float8, extract(epoch FROM now() - greatest(m.updated_at,
             coalesce(m.last_used_at, m.updated_at)))::float8 / {86400.0 * RECENCY_DAYS}) AS score
FROM memories m, q
WHERE m.user_id = :u
ORDER BY m.pinned DESC, score DESC, m.id
LIMIT :n
"""
)


@dataclass(frozen=True, slots=True)
class Chosen:
    id: uuid.UUID
    text: str
    category: str
    pinned: bool
    tokens: int
    score: float


def rank(rows: list[tuple]) -> list[Chosen]:  # type: ignore[type-arg]
    """(id, text, category, pinned, tokens, score) rows: pinned first, then by score; ties by id."""
    chosen = [Chosen(r[0], r[1], r[2], bool(r[3]), int(r[4]), float(r[5])) for r in rows]
    return sorted(chosen, key=lambda c: (not c.pinned, -c.score, str(c.id)))


def pack(ranked: list[Chosen], budget: int) -> list[Chosen]:
    """In rank order, every memory that still fits in `budget` tokens (a long one is skipped, not cut)."""
    out, used = [], 0
    for memory in ranked:
        if used + memory.tokens <= budget:
            out.append(memory)
            used += memory.tokens
    return out


async def choose(ctx: Ctx, vector: str | None, *, budget: int | None = None) -> list[Chosen]:
    """The memories for a reply to a message whose embedding is `vector` (None: no embeddings model)."""
    budget = get_settings().memory_token_budget if budget is None else budget
    if budget <= 0:
        return []
    limit = max(budget // MIN_TOKENS, 1)
    async with tenant_session(ctx.tenant_id) as session:
        rows = (await session.execute(CANDIDATES, {"u": ctx.user_id, "v": vector, "n": limit})).all()
    return pack(rank([tuple(r) for r in rows]), budget)


def block(memories: list[Chosen], note: str = "") -> str:
    """The system message that carries the memories, and what a "remember"/"forget" in the message just did
    ("" when there is neither)."""
    if not memories and not note:
        return ""
    parts = ["<memory>"]
    if memories:
        parts.append(
            "What you know about the user from earlier conversations (they can see and edit it). Use it where it "
            "helps; do not mention it unless it matters to the answer."
        )
        parts.extend(f"- {m.text}" for m in memories)
    if note:
        parts.append(note)
    return "\n".join([*parts, "</memory>"])
