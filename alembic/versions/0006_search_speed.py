"""chat search: rank at most the most recent matches; the matching function only for the app role

Revision ID: 0006
Revises: 0005

A very common word ("the") matches almost every message: ranking every match, then grouping them per
conversation, took seconds at 200,000 messages. `chat_search_matches` now takes a cap and returns at most
`max_matches + 1` message matches and as many title matches: those of the user's most recently active
conversations (conversation `updated_at` descending, then message `created_at` descending). When it returns more
than `max_matches` of either kind the caller knows the results were cut ("showing the most recent matches").
Below the cap, the results are exactly what they were.

Which rows are the most recent is the same for both ways the function finds them; only the cost differs:

- by the GIN index: every match of the query (all tenants' rows are in the index, the tenant is a filter), then
  sorted by recency: costs what the number of matches costs, right for rare words;
- by recency: the user's conversations newest first (`ix_conversations_user_recent`), their messages through `ix_messages_parent`, the text
  match as a filter, stopping at the cap: costs about `max_matches / frequency` rows, right for common words.

The function asks the planner how many messages the query matches (its estimate from the column statistics,
`EXPLAIN` only, nothing is run) and takes the cheaper way: by recency when `frequency * messages` exceeds
`max_matches / frequency`. It is PL/pgSQL with `plan_cache_mode = force_custom_plan` so each statement is
planned with the real query, never with a generic plan that cannot tell "the" from "heliotrope".

The conversation filters of the search (archived, pinned, folder, tag) are arguments, so the cap counts only the
conversations the user asked about. The tenant and user checks are those of 0002: the tenant from the same
`app.current_tenant_id` setting on every table read, the user on the conversation, and nothing for a session
user that could not read the tables itself.

EXECUTE on the function is revoked from PUBLIC (functions are executable by everyone by default) and granted to
the app role only.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from services.pg import APP_ROLE

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

OLD_SIGNATURE = "chat_search_matches(tsquery, uuid)"
SIGNATURE = "chat_search_matches(tsquery, uuid, integer, boolean, boolean, uuid, uuid)"

# The three `RETURN QUERY` statements are also planned by bench/chat_db.py, which reads them from pg_proc:
# keep each one starting with `RETURN QUERY` and ending with `;`, and the variable names as they are.
SEARCH_FUNCTION = """
CREATE FUNCTION chat_search_matches(
    query tsquery,
    for_user uuid,
    max_matches integer,
    archived_is boolean DEFAULT NULL,
    pinned_is boolean DEFAULT NULL,
    in_folder uuid DEFAULT NULL,
    with_tag uuid DEFAULT NULL
)
RETURNS TABLE (conversation_id uuid, message_id uuid, rank real, created_at timestamptz)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER  -- VOLATILE: it runs EXPLAIN
SET search_path = pg_catalog, pg_temp
SET plan_cache_mode = force_custom_plan
AS $$
#variable_conflict error
DECLARE
    for_tenant uuid := NULLIF(current_setting('app.current_tenant_id', true), '')::uuid;
    estimate json;
    matching float8;
    total float8;
    frequency float8;
BEGIN
    IF for_tenant IS NULL OR for_user IS NULL OR query IS NULL OR max_matches IS NULL OR max_matches < 1
       OR NOT has_table_privilege(session_user, 'public.conversations', 'SELECT')
       OR NOT has_table_privilege(session_user, 'public.messages', 'SELECT')
       OR (with_tag IS NOT NULL
           AND NOT has_table_privilege(session_user, 'public.conversation_tags', 'SELECT')) THEN
        RETURN;
    END IF;

    RETURN QUERY
    SELECT t.id, NULL::uuid, ts_rank(t.search, query), t.updated_at
    FROM (
        SELECT c.id, c.search, c.updated_at
        FROM public.conversations c
        WHERE c.search @@ query
          AND c.tenant_id = for_tenant
          AND c.user_id = for_user
          AND (archived_is IS NULL OR c.archived = archived_is)
          AND (pinned_is IS NULL OR c.pinned = pinned_is)
          AND (in_folder IS NULL OR c.folder_id = in_folder)
          AND (with_tag IS NULL OR EXISTS (
                SELECT 1 FROM public.conversation_tags ct
                WHERE ct.conversation_id = c.id AND ct.tag_id = with_tag AND ct.tenant_id = for_tenant))
        ORDER BY c.updated_at DESC, c.id DESC
        LIMIT max_matches + 1
    ) t;

    EXECUTE 'EXPLAIN (FORMAT JSON) SELECT 1 FROM public.messages WHERE search @@ $1' INTO estimate USING query;
    matching := (estimate -> 0 -> 'Plan' ->> 'Plan Rows')::float8;
    SELECT greatest(reltuples, 1) INTO total FROM pg_class WHERE oid = 'public.messages'::regclass;
    frequency := least(greatest(matching / total, 1e-9), 1);

    IF frequency * total <= max_matches / frequency THEN
        -- by the GIN index
        RETURN QUERY
        SELECT t.conversation_id, t.id, ts_rank(t.search, query, 1), t.created_at
        FROM (
            SELECT m.conversation_id, m.id, m.search, m.created_at
            FROM public.messages m
            JOIN public.conversations c ON c.id = m.conversation_id
            WHERE m.search @@ query
              AND m.tenant_id = for_tenant
              AND c.tenant_id = for_tenant
              AND c.user_id = for_user
              AND (archived_is IS NULL OR c.archived = archived_is)
              AND (pinned_is IS NULL OR c.pinned = pinned_is)
              AND (in_folder IS NULL OR c.folder_id = in_folder)
              AND (with_tag IS NULL OR EXISTS (
                    SELECT 1 FROM public.conversation_tags ct
                    WHERE ct.conversation_id = c.id AND ct.tag_id = with_tag AND ct.tenant_id = for_tenant))
            ORDER BY c.updated_at DESC, c.id DESC, m.created_at DESC, m.id DESC
            LIMIT max_matches + 1
        ) t;
    ELSE
        -- by recency: the user's conversations newest first, through ix_conversations_user_recent, each one's
        -- matching messages as a LATERAL subquery (OFFSET 0 keeps it one, so a nested loop that stops at the cap)
        RETURN QUERY
        SELECT t.conversation_id, t.id, ts_rank(t.search, query, 1), t.created_at
        FROM (
            SELECT m.conversation_id, m.id, m.search, m.created_at
            FROM public.conversations c
            CROSS JOIN LATERAL (
                SELECT m.conversation_id, m.id, m.search, m.created_at
                FROM public.messages m
                WHERE m.conversation_id = c.id
                  AND m.tenant_id = for_tenant
                  AND m.search @@ query
                OFFSET 0
            ) m
            WHERE c.tenant_id = for_tenant
              AND c.user_id = for_user
              AND (archived_is IS NULL OR c.archived = archived_is)
              AND (pinned_is IS NULL OR c.pinned = pinned_is)
              AND (in_folder IS NULL OR c.folder_id = in_folder)
              AND (with_tag IS NULL OR EXISTS (
                    SELECT 1 FROM public.conversation_tags ct
                    WHERE ct.conversation_id = c.id AND ct.tag_id = with_tag AND ct.tenant_id = for_tenant))
            ORDER BY c.updated_at DESC, c.id DESC, m.created_at DESC, m.id DESC
            LIMIT max_matches + 1
        ) t;
    END IF;
END
$$
"""

# Migration 0002's function, for the downgrade.
OLD_FUNCTION = """
CREATE FUNCTION chat_search_matches(query tsquery, for_user uuid)
RETURNS TABLE (conversation_id uuid, message_id uuid, rank real, created_at timestamptz)
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT c.id, NULL::uuid, ts_rank(c.search, query), c.updated_at
    FROM public.conversations c
    WHERE c.search @@ query
      AND c.tenant_id = NULLIF(current_setting('app.current_tenant_id', true), '')::uuid
      AND c.user_id = for_user
      AND has_table_privilege(session_user, 'public.conversations', 'SELECT')
    UNION ALL
    SELECT m.conversation_id, m.id, ts_rank(m.search, query, 1), m.created_at
    FROM public.messages m
    JOIN public.conversations c ON c.id = m.conversation_id
    WHERE m.search @@ query
      AND m.tenant_id = NULLIF(current_setting('app.current_tenant_id', true), '')::uuid
      AND c.tenant_id = m.tenant_id
      AND c.user_id = for_user
      AND has_table_privilege(session_user, 'public.messages', 'SELECT')
      AND has_table_privilege(session_user, 'public.conversations', 'SELECT')
$$
"""


def grant_to_app(signature: str) -> str:
    """EXECUTE for the app role, when it exists (`solo setup` creates it before migrating)."""
    return f"""DO $$ BEGIN
        IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{APP_ROLE}') THEN
            GRANT EXECUTE ON FUNCTION {signature} TO {APP_ROLE};
        ELSE
            RAISE WARNING 'role {APP_ROLE} does not exist: grant it EXECUTE ON FUNCTION {signature}';
        END IF;
    END $$"""


def upgrade() -> None:
    # The user's conversations newest first, for the search by recency (and it stops at the cap).
    op.create_index(
        "ix_conversations_user_recent",
        "conversations",
        ["user_id", sa.text("updated_at DESC"), sa.text("id DESC")],
        unique=False,
    )
    op.execute(f"DROP FUNCTION IF EXISTS {OLD_SIGNATURE}")
    op.execute(SEARCH_FUNCTION)
    op.execute(f"REVOKE ALL ON FUNCTION {SIGNATURE} FROM PUBLIC")
    op.execute(grant_to_app(SIGNATURE))


def downgrade() -> None:
    op.execute(f"DROP FUNCTION IF EXISTS {SIGNATURE}")
    op.execute(OLD_FUNCTION)
    op.drop_index("ix_conversations_user_recent", table_name="conversations")
