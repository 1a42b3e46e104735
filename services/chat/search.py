"""Full-text search over the user's conversation titles and message text (Postgres, no extra service).

Both sides use the 'simple' configuration of the generated `search` columns (see migration 0002). The query
language is `websearch_to_tsquery`: words, "quoted phrases", `or`, and `-excluded`. A title match counts
more than a message match (titles are weighted 'A'); a conversation is returned once, with its best-ranked
message so the UI can open it at that message (`select_sibling(ctx, conversation_id, message_id)`). A message is
also found by the names of the files it attaches (migration 0010); its snippet then starts with them.

Matching goes through `chat_search_matches` (migration 0002 explains why: under RLS a GIN index cannot serve
`@@`); it returns ids and ranks of the current tenant's user only, and everything shown (titles, text,
filters) is read again under RLS here.

A very common word matches nearly every message, and ranking all of them is slow and says little. So at most
`MAX_RANKED_MATCHES` message matches (and as many title matches) are ranked: those of the most recently active
conversations (migration 0005). When a search had more, `SearchResults.truncated` is true and the UI should
say "showing the most recent matches".
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import text

from models.chat import MESSAGE_SEARCH_CHARS, TEXT_SEARCH_CONFIG
from services.auth.roles import require
from services.chat.common import ConversationFilters, one_line
from services.context import Ctx
from services.db import tenant_session
from services.errors import ValidationError

MAX_QUERY_CHARS = 500
MAX_RANKED_MATCHES = 1000  # per kind (titles, messages): the most recent matches ranked for one search
HIT_START, HIT_END = "«", "»"  # around matched words in `SearchHit.snippet`
_START, _END = "\x02", "\x03"  # unambiguous markers inside Postgres; removed from the text first

_HEADLINE_OPTIONS = (
    f'StartSel="{_START}", StopSel="{_END}", MaxWords=30, MinWords=12, ShortWord=2, '
    'MaxFragments=2, FragmentDelimiter=" … "'
)


@dataclass(frozen=True, slots=True)
class SnippetPart:
    text: str
    hit: bool  # a matched word: show it highlighted


@dataclass(frozen=True, slots=True)
class SearchHit:
    conversation_id: uuid.UUID
    title: str
    message_id: uuid.UUID | None  # the best matching message; None when only the title matched
    snippet: str  # plain text, matched words between « and »
    parts: tuple[SnippetPart, ...]  # the same snippet, split for rendering without any markup parsing
    rank: float
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class SearchResults:
    hits: list[SearchHit]
    truncated: bool  # more matches than MAX_RANKED_MATCHES: only the most recent ones were ranked


def filter_sql(filters: ConversationFilters, params: dict[str, Any], alias: str = "c") -> str:
    """SQL conditions on conversations `alias` for `filters`, always including the owner."""
    clauses = [f"{alias}.user_id = :user_id"]
    if filters.archived is not None:
        clauses.append(f"{alias}.archived = :archived")
        params["archived"] = filters.archived
    if filters.pinned is not None:
        clauses.append(f"{alias}.pinned = :pinned")
        params["pinned"] = filters.pinned
    if filters.folder_id is not None:
        clauses.append(f"{alias}.folder_id = :folder_id")
        params["folder_id"] = filters.folder_id
    if filters.tag_id is not None:
        clauses.append(
            "EXISTS (SELECT 1 FROM conversation_tags ct"
            f" WHERE ct.conversation_id = {alias}.id AND ct.tag_id = :tag_id)"
        )
        params["tag_id"] = filters.tag_id
    return " AND ".join(clauses)


def search_sql(where: str) -> str:
    # The tsquery is written out where it is used, so the planner sees its value. Matches are grouped per
    # conversation in one pass (no self-joins of the match list, which can be large for a common word).
    tsq = f"websearch_to_tsquery('{TEXT_SEARCH_CONFIG}', :query)"
    return f"""
WITH matches AS MATERIALIZED (
    SELECT x.conversation_id, x.message_id, x.rank, x.created_at
    FROM chat_search_matches({tsq}, :user_id, :cap, CAST(:f_archived AS boolean), CAST(:f_pinned AS boolean),
                             CAST(:f_folder AS uuid), CAST(:f_tag AS uuid)) x
),
cut AS (  -- the function returns one row more than the cap of a kind when there were more
    SELECT count(*) FILTER (WHERE message_id IS NULL) > :cap
             OR count(*) FILTER (WHERE message_id IS NOT NULL) > :cap AS truncated
    FROM matches
),
per_conversation AS (
    SELECT conversation_id,
           COALESCE(max(rank) FILTER (WHERE message_id IS NULL), 0)
             + COALESCE(max(rank) FILTER (WHERE message_id IS NOT NULL), 0) AS rank,
           (array_agg(message_id ORDER BY rank DESC, created_at DESC, message_id DESC)
              FILTER (WHERE message_id IS NOT NULL))[1] AS message_id
    FROM matches
    GROUP BY conversation_id
),
hits AS (
    SELECT c.id, c.title, c.updated_at, p.message_id, p.rank
    FROM per_conversation p
    JOIN conversations c ON c.id = p.conversation_id
    WHERE {where}
    ORDER BY p.rank DESC, c.updated_at DESC, c.id DESC
    LIMIT :limit
)
SELECT h.id, h.title, h.updated_at, h.message_id, h.rank, cut.truncated,
       ts_headline('{TEXT_SEARCH_CONFIG}',
                   translate(CASE WHEN m.id IS NULL THEN h.title ELSE concat_ws(' — ', (
                       SELECT '📎 ' || string_agg(p->>'name', ', ') FROM jsonb_array_elements(m.content_parts) p
                       WHERE p->>'type' = 'file'), left(m.text, {MESSAGE_SEARCH_CHARS})) END,
                             :markers, ''),
                   {tsq}, :options) AS snippet
FROM hits h
CROSS JOIN cut
LEFT JOIN messages m ON m.id = h.message_id
ORDER BY h.rank DESC, h.updated_at DESC, h.id DESC
"""


def search_params(
    user_id: uuid.UUID, query: str, filters: ConversationFilters, limit: int, cap: int = MAX_RANKED_MATCHES
) -> tuple[str, dict[str, Any]]:
    params: dict[str, Any] = {
        "user_id": user_id,
        "query": query,
        "limit": limit,
        "cap": cap,
        # The same filters again inside the matching function, so that the cap counts only these conversations.
        "f_archived": filters.archived,
        "f_pinned": filters.pinned,
        "f_folder": filters.folder_id,
        "f_tag": filters.tag_id,
        "markers": _START + _END,
        "options": _HEADLINE_OPTIONS,
    }
    return search_sql(filter_sql(filters, params)), params


def snippet_parts(marked: str) -> tuple[SnippetPart, ...]:
    parts: list[SnippetPart] = []
    rest = one_line(marked)
    while rest:
        start = rest.find(_START)
        if start < 0:
            parts.append(SnippetPart(rest, False))
            break
        if start:
            parts.append(SnippetPart(rest[:start], False))
        end = rest.find(_END, start)
        end = len(rest) if end < 0 else end
        if end > start + 1:
            parts.append(SnippetPart(rest[start + 1 : end], True))
        rest = rest[end + 1 :]
    merged: list[SnippetPart] = []  # an empty hit can leave two plain parts side by side
    for part in parts:
        if merged and merged[-1].hit == part.hit:
            merged[-1] = SnippetPart(merged[-1].text + part.text, part.hit)
        else:
            merged.append(part)
    return tuple(merged)


async def search_results(
    ctx: Ctx,
    query: str,
    filters: ConversationFilters | None = None,
    limit: int = 20,
    *,
    ranked_matches: int = MAX_RANKED_MATCHES,
) -> SearchResults:
    """The user's conversations matching `query`, best first, and whether only the most recent matches (at
    most `ranked_matches` titles and as many messages) were ranked. Only the user's own conversations."""
    require(ctx, "workspace.use")
    query = one_line(query)
    if not query:
        return SearchResults([], False)
    if len(query) > MAX_QUERY_CHARS:
        raise ValidationError(f"That search is too long ({MAX_QUERY_CHARS} characters at most).")
    if not 1 <= limit <= 100:
        raise ValidationError("Ask for between 1 and 100 search results.")
    if not 1 <= ranked_matches <= 100_000:
        raise ValidationError("Rank between 1 and 100,000 matches.")
    filters = filters or ConversationFilters(archived=None)
    sql, params = search_params(ctx.user_id, query, filters, limit, ranked_matches)
    async with tenant_session(ctx.tenant_id) as session:
        rows = (await session.execute(text(sql), params)).all()
    hits = []
    for row in rows:
        parts = snippet_parts(row.snippet or "")
        snippet = "".join(f"{HIT_START}{p.text}{HIT_END}" if p.hit else p.text for p in parts)
        hits.append(
            SearchHit(
                conversation_id=row.id,
                title=row.title,
                message_id=row.message_id,
                snippet=snippet,
                parts=parts,
                rank=float(row.rank),
                updated_at=row.updated_at,
            )
        )
    return SearchResults(hits, any(row.truncated for row in rows))


async def search(
    ctx: Ctx, query: str, filters: ConversationFilters | None = None, limit: int = 20
) -> list[SearchHit]:
    """The hits of `search_results` (which also says whether the matches were cut to the most recent)."""
    return (await search_results(ctx, query, filters, limit)).hits
