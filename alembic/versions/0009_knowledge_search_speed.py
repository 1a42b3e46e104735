"""knowledge_matches, faster and exact where it can be: keyword tiers, and exact nearest chunks in small scopes

Revision ID: 0009
Revises: 0008

The matcher of 0007 ranked every chunk matching ANY word of the question: at 100,000 chunks a question with a
common word matched thousands of them, and ts_rank over all of them cost ~400 ms. Its vector half always went
through HNSW, which is approximate, also when the scope was a few files whose chunks can be compared exactly in
a few milliseconds.

The new matcher takes the keyword query as tiers, strictest first (services/knowledge/search.py builds them:
every word, then any two words, then any word). Each tier ranks only chunks that the tiers before it did not
match, at most `KEYWORD_CAP` of them, and the tiers stop once `k` chunks are found. A tier capped at KEYWORD_CAP
matches (more than k) fills the list by itself, so the cap cuts only among chunks that match as well as each other.

The vector half compares exactly (no index) when the scope holds at most `EXACT_LIMIT` chunks of the query's
size, and otherwise asks the size's HNSW index with a wider candidate list (`hnsw.ef_search` = max(5k, 200)) and
iterative scan, so that a filter that keeps few rows still returns k of them.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from alembic import op

from services.pg import APP_ROLE

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

OLD_SIGNATURE = "knowledge_matches(tsquery, vector, uuid, uuid[], integer)"
SIGNATURE = "knowledge_matches(tsquery[], vector, uuid, uuid[], integer)"
KEYWORD_CAP = 1000
EXACT_LIMIT = 10000

MATCH_FUNCTION = f"""
CREATE FUNCTION knowledge_matches(tiers tsquery[], qvec vector, for_user uuid, scope uuid[], k integer)
RETURNS TABLE (chunk_id uuid, kind "char", place integer, score real)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = public, pg_catalog, pg_temp
SET plan_cache_mode = force_custom_plan
AS $$
#variable_conflict error
DECLARE
    for_tenant uuid := NULLIF(current_setting('app.current_tenant_id', true), '')::uuid;
    readable uuid[];
    dim integer;
    tier tsquery;
    before tsquery := NULL;
    taken integer := 0;
    got integer;
    in_scope integer;
    -- Tests set `solo.knowledge_exact_chunks` to 0 to take the HNSW path with few chunks.
    exact_limit integer := coalesce(
        nullif(current_setting('solo.knowledge_exact_chunks', true), '')::integer, {EXACT_LIMIT});
BEGIN
    IF for_tenant IS NULL OR for_user IS NULL OR scope IS NULL OR k IS NULL OR k < 1 OR k > 1000
       OR NOT has_table_privilege(session_user, 'public.file_chunks', 'SELECT') THEN
        RETURN;
    END IF;
    -- The files of the scope this user may read: their own, or those in one of the tenant's shared collections.
    SELECT coalesce(array_agg(f.id), '{{}}') INTO readable
    FROM public.files f
    WHERE f.id = ANY(scope) AND f.tenant_id = for_tenant
      AND (f.user_id = for_user OR EXISTS (
            SELECT 1 FROM public.collection_files cf JOIN public.collections c ON c.id = cf.collection_id
            WHERE cf.file_id = f.id AND c.owner_id IS NULL AND c.tenant_id = for_tenant));
    IF cardinality(readable) = 0 THEN
        RETURN;
    END IF;

    IF tiers IS NOT NULL THEN
        FOREACH tier IN ARRAY tiers LOOP
            EXIT WHEN taken >= k;
            CONTINUE WHEN tier IS NULL;
            RETURN QUERY
            SELECT t.id, 't'::"char", (taken + row_number() OVER (ORDER BY t.r DESC, t.id))::integer, t.r
            FROM (
                SELECT c.id, ts_rank(c.search, tier) AS r
                FROM (
                    SELECT fc.id, fc.search
                    FROM public.file_chunks fc
                    WHERE fc.search @@ tier AND fc.tenant_id = for_tenant AND fc.file_id = ANY(readable)
                      AND (before IS NULL OR NOT fc.search @@ before)
                    LIMIT {KEYWORD_CAP}
                ) c
                ORDER BY r DESC, c.id
                LIMIT k - taken
            ) t;
            GET DIAGNOSTICS got = ROW_COUNT;
            taken := taken + got;
            before := CASE WHEN before IS NULL THEN tier ELSE before || tier END;
        END LOOP;
    END IF;

    IF qvec IS NOT NULL THEN
        dim := vector_dims(qvec);
        -- How many chunks the scope has (an upper bound of those with this size: cheap, from the files' rows).
        SELECT coalesce(sum(f.chunk_count), 0) INTO in_scope
        FROM public.files f WHERE f.id = ANY(readable) AND f.tenant_id = for_tenant;
        IF in_scope > exact_limit AND dim IN (256, 384, 512, 768, 1024, 1536) THEN
            PERFORM set_config('hnsw.iterative_scan', 'relaxed_order', true);
            PERFORM set_config('hnsw.ef_search', least(greatest(k * 5, 200), 1000)::text, true);
            RETURN QUERY EXECUTE format(
                'SELECT t.id, ''v''::"char", (row_number() OVER (ORDER BY t.d, t.id))::integer, t.d::real
                 FROM (
                    SELECT fc.id, (fc.embedding::vector(%1$s)) <=> $1::vector(%1$s) AS d
                    FROM public.file_chunks fc
                    WHERE fc.embedding_dim = %1$s AND fc.tenant_id = $2 AND fc.file_id = ANY($3)
                    ORDER BY (fc.embedding::vector(%1$s)) <=> $1::vector(%1$s)
                    LIMIT $4
                 ) t', dim)
            USING qvec, for_tenant, readable, k;
        ELSE
            -- Few chunks (or a size without an index): compare them all, exactly.
            RETURN QUERY
            SELECT t.id, 'v'::"char", (row_number() OVER (ORDER BY t.d, t.id))::integer, t.d::real
            FROM (
                SELECT fc.id, fc.embedding <=> qvec AS d
                FROM public.file_chunks fc
                WHERE fc.embedding_dim = dim AND fc.tenant_id = for_tenant AND fc.file_id = ANY(readable)
                ORDER BY d
                LIMIT k
            ) t;
        END IF;
    END IF;
END
$$
"""


def _grant(signature: str) -> str:
    return f"""DO $$ BEGIN
        IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{APP_ROLE}') THEN
            GRANT EXECUTE ON FUNCTION {signature} TO {APP_ROLE};
        ELSE
            RAISE WARNING 'role {APP_ROLE} does not exist: grant it EXECUTE ON FUNCTION {signature}';
        END IF;
    END $$"""


# A chunk's vector stays in its row: pgvector's type is EXTERNAL, so a row over 2 kB had its vector moved to the
# TOAST table, and comparing 10,000 vectors exactly cost 10,000 TOAST lookups (~45 ms). Now the vector and the
# tsvector (ts_rank reads it) stay inline, the text is compressed (and moved out only when the row still exceeds
# 4 kB). Rows written before keep their layout until rewritten.
STORAGE = (
    "ALTER TABLE file_chunks ALTER COLUMN embedding SET STORAGE MAIN, ALTER COLUMN search SET STORAGE MAIN, "
    "SET (toast_tuple_target = 4080)"
)
OLD_STORAGE = (
    "ALTER TABLE file_chunks ALTER COLUMN embedding SET STORAGE EXTERNAL, ALTER COLUMN search SET STORAGE EXTENDED, "
    "RESET (toast_tuple_target)"
)


def upgrade() -> None:
    op.execute(STORAGE)
    op.execute(f"DROP FUNCTION IF EXISTS {OLD_SIGNATURE}")
    op.execute(MATCH_FUNCTION)
    op.execute(f"REVOKE ALL ON FUNCTION {SIGNATURE} FROM PUBLIC")
    op.execute(_grant(SIGNATURE))


def downgrade() -> None:
    spec = importlib.util.spec_from_file_location("knowledge_0007", Path(__file__).with_name("0007_knowledge.py"))
    assert spec is not None and spec.loader is not None
    old = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(old)
    op.execute(f"DROP FUNCTION IF EXISTS {SIGNATURE}")
    op.execute(OLD_STORAGE)
    op.execute(old.MATCH_FUNCTION)
    op.execute(f"REVOKE ALL ON FUNCTION {OLD_SIGNATURE} FROM PUBLIC")
    op.execute(_grant(OLD_SIGNATURE))
