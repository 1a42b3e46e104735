"""Hybrid search over the chunks of files: full-text rank and vector similarity, fused by reciprocal rank.

`search(ctx, question, file_ids=...)` returns the best chunks of the files in scope that the user may read,
each with its file, page, heading and a highlighted snippet (`**word**` around the matched words). Tenant and
user are enforced twice: `knowledge_matches` (migrations 0007 and 0009, SECURITY DEFINER so the GIN and HNSW indexes are
used under FORCE RLS) applies them itself and returns chunk ids only; the rows are then read back under RLS.

The keyword half looks for the question's words (minus a short list of English function words) in tiers,
strictest first: chunks with every word, then with any two of them, then with any one (a question rarely
contains every word of the passage that answers it). The matcher (migration 0009) ranks each tier with ts_rank
and stops once it has enough, so a common word does not make it rank thousands of chunks. The vector half embeds the question with the tenant's embeddings model;
when there is none, or it fails, search is keyword-only (`Results.keyword_only`), which the caller may say.
"""

from __future__ import annotations

import asyncio
import logging
import re
import uuid
from dataclasses import dataclass, field

from sqlalchemy import text

from services.auth.roles import require
from services.context import Ctx
from services.db import tenant_session
from services.files import records
from services.knowledge.embed import QuestionVector

log = logging.getLogger("solo.knowledge")

RRF_K = 60  # the usual constant of reciprocal rank fusion
CANDIDATES = 40  # taken from each half before fusing
STOP_WORDS = frozenset(
    "a an and are as at be by do does did for from has have how i in is it its me my of on or our so that the "
    "their them then there these they this to was we what when where which who why will with you your about "
    "can could would should tell say says said please".split()
)
_WORD = re.compile(r"[^\W_]+", re.UNICODE)


# One half of the matcher: the keyword tiers (an empty list: none) or the question's vector (NULL: none).
MATCH = text(
    "SELECT chunk_id, place FROM knowledge_matches("
    "ARRAY(SELECT to_tsquery('simple', t.q) FROM unnest(CAST(:tiers AS text[])) WITH ORDINALITY AS t(q, n) "
    "ORDER BY t.n), CAST(:v AS vector), :u, CAST(:scope AS uuid[]), :n)"
)
# The fused best chunks read back under RLS, with a highlighted snippet.
FETCH = text(
    "SELECT fc.id, fc.file_id, f.name, fc.page, fc.heading, fc.text, fc.tokens, "
    "ts_headline('simple', fc.text, "
    "CASE WHEN :q = '' THEN to_tsquery('simple', '') ELSE to_tsquery('simple', :q) END, "
    "'StartSel=**, StopSel=**, MaxWords=40, MinWords=20, MaxFragments=1, FragmentDelimiter=\" … \"') "
    "FROM file_chunks fc JOIN files f ON f.id = fc.file_id WHERE fc.id = ANY(CAST(:ids AS uuid[]))"
)


@dataclass(frozen=True, slots=True)
class Hit:
    chunk_id: uuid.UUID
    file_id: uuid.UUID
    file_name: str
    page: int | None
    heading: str
    text: str
    snippet: str
    tokens: int
    score: float  # fused: higher is better


@dataclass(slots=True)
class Results:
    hits: list[Hit] = field(default_factory=list)
    keyword_only: bool = True


def keyword_words(question: str) -> list[str]:
    """The question's meaningful words, lower-cased, each once, in order (at most 32)."""
    words: list[str] = []
    for word in _WORD.findall(question.lower()):
        if (len(word) > 1 or not word.isascii()) and word not in STOP_WORDS and word not in words:
            words.append(word)
    return words[:32]


def keyword_query(question: str) -> str:
    """A `to_tsquery('simple', ...)` string ORing the question's meaningful words ("" when none)."""
    return " | ".join(f"'{w}'" for w in keyword_words(question))


def keyword_tiers(question: str) -> list[str]:
    """The keyword half's queries, strictest first: every word; any two of them (of the 8 longest, which tend
    to be the rarer ones); any one. A question of one word has one tier, of two words two."""
    words = keyword_words(question)
    if not words:
        return []
    quoted = [f"'{w}'" for w in words]
    if len(words) == 1:
        return quoted
    tiers = [" & ".join(quoted)]
    if len(words) >= 3:
        strong = sorted(quoted, key=len, reverse=True)[:8]
        tiers.append(" | ".join(f"({a} & {b})" for i, a in enumerate(strong) for b in strong[i + 1 :]))
    tiers.append(" | ".join(quoted))
    return tiers


def fuse(ranked: list[tuple[uuid.UUID, int]], k: int) -> list[tuple[uuid.UUID, float]]:
    """Reciprocal rank fusion of (chunk, place) rows of both halves: a chunk scores the sum of
    1 / (RRF_K + place) over the lists it is in; the best k, ties by id."""
    scores: dict[uuid.UUID, float] = {}
    for chunk_id, place in ranked:
        scores[chunk_id] = scores.get(chunk_id, 0.0) + 1.0 / (RRF_K + place)
    return sorted(scores.items(), key=lambda item: (-item[1], str(item[0])))[:k]


async def _half(
    ctx: Ctx, scope: list[uuid.UUID], tiers: list[str], vector: str | None
) -> list[tuple[uuid.UUID, int]]:
    if not scope or not (tiers or vector):
        return []
    async with tenant_session(ctx.tenant_id) as session:
        rows = await session.execute(
            MATCH, {"tiers": tiers, "v": vector, "u": ctx.user_id, "scope": scope, "n": CANDIDATES}
        )
        return [(r[0], int(r[1])) for r in rows.all()]


async def search(
    ctx: Ctx,
    question: str,
    *,
    file_ids: list[uuid.UUID],
    k: int = 8,
    vector: QuestionVector | None = None,
) -> Results:
    """The halves run side by side on two connections: the keyword half as soon as the scope is checked, the
    vector half once the question is also embedded (with a remote model, the slow part). `vector`: the turn's
    shared embedding of this question (else it is embedded here)."""
    require(ctx, "workspace.use")
    results = Results()
    terms = keyword_query(question)
    tiers = keyword_tiers(question)
    if not file_ids or not (terms or question.strip()):
        return results
    checking = asyncio.ensure_future(records.readable_ids(ctx, file_ids))
    embedding = vector if vector is not None else QuestionVector(ctx, question)

    async def by_vector() -> tuple[str | None, list[tuple[uuid.UUID, int]]]:
        literal = await embedding.get()
        return literal, await _half(ctx, await checking, [], literal) if literal else []

    async def by_keywords() -> list[tuple[uuid.UUID, int]]:
        return await _half(ctx, await checking, tiers, None)

    try:
        keyword_rows, (literal, vector_rows) = await asyncio.gather(by_keywords(), by_vector())
    finally:
        checking.cancel()  # done by now, unless a half failed first
    results.keyword_only = literal is None
    best = fuse(keyword_rows + vector_rows, k)
    if not best:
        return results
    async with tenant_session(ctx.tenant_id) as session:
        found = {
            r[0]: r for r in (await session.execute(FETCH, {"q": terms, "ids": [c for c, _ in best]})).all()
        }
    for chunk_id, score in best:
        if (r := found.get(chunk_id)) is not None:
            results.hits.append(
                Hit(r[0], r[1], r[2], r[3], r[4] or "", r[5], r[7] or "", int(r[6] or 0), score)
            )
    return results
