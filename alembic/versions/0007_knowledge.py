"""knowledge: files, collections, chunks (tsvector + pgvector), attachments and citations of messages

Revision ID: 0007
Revises: 0006

Embeddings have the size the tenant's embeddings model gives (384 for small local models, 768, 1024, 1536 for
OpenAI's text-embedding-3-small...). One table serves them all: `embedding` is a dimensionless `vector` and
`embedding_dim` its size. HNSW needs a fixed size, so there is one partial expression index per common size,
`((embedding::vector(N))) WHERE embedding_dim = N`; an empty index costs nothing. A model of another size still
works, searched exactly (a sequential scan of the chunks in scope), and README says so.

Row-level security and the indexes: `@@` is not LEAKPROOF, so under FORCE RLS Postgres checks the policy before
it and cannot use the GIN index (migration 0002). `knowledge_matches(...)` is the way around it, as for the chat
search: a SECURITY DEFINER function that applies the tenant rule itself (from `app.current_tenant_id`), the
user's access (their own files, or files in a tenant-wide collection), and the scope (file ids) the caller
asks for, and returns chunk ids and ranks only. The caller joins them back to `file_chunks` under RLS.
The vector half orders by distance on the size's HNSW index with pgvector's iterative scan (0.8+), so a filter
that keeps few rows still returns k of them.
"""

from __future__ import annotations

from alembic import op

from models.rls import disable_tenant_rls, enable_tenant_rls
from services.pg import APP_ROLE

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

TENANT_TABLES = (
    "files",
    "collections",
    "collection_files",
    "file_sections",
    "file_chunks",
    "message_files",
    "message_citations",
    "conversation_collections",
)
HNSW_DIMS = (256, 384, 512, 768, 1024, 1536)
CHUNK_SEARCH = "to_tsvector('simple'::regconfig, left(heading || ' ' || text, 100000))"

TABLES = f"""
CREATE TABLE files (
    id uuid PRIMARY KEY,
    tenant_id uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    user_id uuid NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    name varchar(200) NOT NULL,
    kind varchar(10) NOT NULL,
    mime varchar(120) NOT NULL,
    size_bytes bigint NOT NULL,
    sha256 varchar(64) NOT NULL,
    storage_key varchar(400) NOT NULL,
    status varchar(20) NOT NULL DEFAULT 'processing',
    stage varchar(40) NOT NULL DEFAULT '',
    progress integer NOT NULL DEFAULT 0,
    error_text varchar(1000) NOT NULL DEFAULT '',
    pages integer,
    width integer,
    height integer,
    tokens integer,
    chunk_count integer NOT NULL DEFAULT 0,
    embedded boolean NOT NULL DEFAULT false,
    embeddings_model varchar(200) NOT NULL DEFAULT '',
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    CONSTRAINT uq_files_user_sha256 UNIQUE (user_id, sha256),
    CONSTRAINT ck_files_status CHECK (status IN ('uploading', 'processing', 'ready', 'failed'))
);
CREATE INDEX ix_files_tenant_id ON files (tenant_id);
CREATE INDEX ix_files_user_recent ON files (user_id, created_at DESC, id DESC);

CREATE TABLE collections (
    id uuid PRIMARY KEY,
    tenant_id uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    owner_id uuid REFERENCES users(id) ON DELETE CASCADE,
    name varchar(100) NOT NULL,
    description varchar(500) NOT NULL DEFAULT '',
    created_at timestamptz NOT NULL
);
CREATE INDEX ix_collections_tenant_id ON collections (tenant_id);
CREATE INDEX ix_collections_owner ON collections (owner_id, name);
CREATE UNIQUE INDEX uq_collections_owner_name ON collections (tenant_id, coalesce(owner_id, tenant_id), lower(name));

CREATE TABLE collection_files (
    tenant_id uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    collection_id uuid NOT NULL REFERENCES collections(id) ON DELETE CASCADE,
    file_id uuid NOT NULL REFERENCES files(id) ON DELETE CASCADE,
    added_at timestamptz NOT NULL,
    CONSTRAINT pk_collection_files PRIMARY KEY (collection_id, file_id)
);
CREATE INDEX ix_collection_files_tenant_id ON collection_files (tenant_id);
CREATE INDEX ix_collection_files_file ON collection_files (file_id);

CREATE TABLE file_sections (
    tenant_id uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    file_id uuid NOT NULL REFERENCES files(id) ON DELETE CASCADE,
    ordinal integer NOT NULL,
    page integer,
    heading varchar(300) NOT NULL DEFAULT '',
    text text NOT NULL,
    CONSTRAINT pk_file_sections PRIMARY KEY (file_id, ordinal)
);
CREATE INDEX ix_file_sections_tenant_id ON file_sections (tenant_id);

CREATE TABLE file_chunks (
    id uuid PRIMARY KEY,
    tenant_id uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    file_id uuid NOT NULL REFERENCES files(id) ON DELETE CASCADE,
    user_id uuid NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    ordinal integer NOT NULL,
    page integer,
    heading varchar(300) NOT NULL DEFAULT '',
    tokens integer NOT NULL DEFAULT 0,
    text text NOT NULL,
    embedding_dim integer,
    embedding vector,
    search tsvector GENERATED ALWAYS AS ({CHUNK_SEARCH}) STORED,
    CONSTRAINT uq_file_chunks_file_ordinal UNIQUE (file_id, ordinal),
    CONSTRAINT ck_file_chunks_dim CHECK (embedding IS NULL OR vector_dims(embedding) = embedding_dim)
);
CREATE INDEX ix_file_chunks_tenant_id ON file_chunks (tenant_id);
CREATE INDEX ix_file_chunks_user_id ON file_chunks (user_id);
CREATE INDEX ix_file_chunks_search ON file_chunks USING gin (search);

CREATE TABLE message_files (
    tenant_id uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    message_id uuid NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
    ordinal integer NOT NULL,
    file_id uuid REFERENCES files(id) ON DELETE SET NULL,
    name varchar(200) NOT NULL,
    kind varchar(10) NOT NULL,
    size_bytes bigint NOT NULL DEFAULT 0,
    CONSTRAINT pk_message_files PRIMARY KEY (message_id, ordinal)
);
CREATE INDEX ix_message_files_tenant_id ON message_files (tenant_id);
CREATE INDEX ix_message_files_file ON message_files (file_id);

CREATE TABLE message_citations (
    tenant_id uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    message_id uuid NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
    number integer NOT NULL,
    file_id uuid REFERENCES files(id) ON DELETE SET NULL,
    chunk_id uuid REFERENCES file_chunks(id) ON DELETE SET NULL,
    name varchar(200) NOT NULL,
    page integer,
    heading varchar(300) NOT NULL DEFAULT '',
    snippet varchar(600) NOT NULL DEFAULT '',
    CONSTRAINT pk_message_citations PRIMARY KEY (message_id, number)
);
CREATE INDEX ix_message_citations_tenant_id ON message_citations (tenant_id);
CREATE INDEX ix_message_citations_file ON message_citations (file_id);
CREATE INDEX ix_message_citations_chunk ON message_citations (chunk_id);

CREATE TABLE conversation_collections (
    tenant_id uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    conversation_id uuid NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    collection_id uuid NOT NULL REFERENCES collections(id) ON DELETE CASCADE,
    CONSTRAINT pk_conversation_collections PRIMARY KEY (conversation_id, collection_id)
);
CREATE INDEX ix_conversation_collections_tenant_id ON conversation_collections (tenant_id);
CREATE INDEX ix_conversation_collections_collection ON conversation_collections (collection_id);
"""

SIGNATURE = "knowledge_matches(tsquery, vector, uuid, uuid[], integer)"

# Returns up to `k` keyword matches (kind 't', rank = ts_rank) and up to `k` nearest chunks by cosine distance
# (kind 'v', rank = distance), each in rank order (`place` 1..k), among the chunks of the files in `scope` that
# the user may read in the current tenant. Either query may be NULL (then that half is skipped).
MATCH_FUNCTION = """
CREATE FUNCTION knowledge_matches(query tsquery, qvec vector, for_user uuid, scope uuid[], k integer)
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
BEGIN
    IF for_tenant IS NULL OR for_user IS NULL OR scope IS NULL OR k IS NULL OR k < 1 OR k > 1000
       OR NOT has_table_privilege(session_user, 'public.file_chunks', 'SELECT') THEN
        RETURN;
    END IF;
    -- The files of the scope this user may read: their own, or those in one of the tenant's shared collections.
    SELECT coalesce(array_agg(f.id), '{}') INTO readable
    FROM public.files f
    WHERE f.id = ANY(scope) AND f.tenant_id = for_tenant
      AND (f.user_id = for_user OR EXISTS (
            SELECT 1 FROM public.collection_files cf JOIN public.collections c ON c.id = cf.collection_id
            WHERE cf.file_id = f.id AND c.owner_id IS NULL AND c.tenant_id = for_tenant));
    IF cardinality(readable) = 0 THEN
        RETURN;
    END IF;

    IF query IS NOT NULL THEN
        RETURN QUERY
        SELECT t.id, 't'::"char", (row_number() OVER (ORDER BY t.r DESC, t.id))::integer, t.r
        FROM (
            SELECT fc.id, ts_rank(fc.search, query) AS r
            FROM public.file_chunks fc
            WHERE fc.search @@ query AND fc.tenant_id = for_tenant AND fc.file_id = ANY(readable)
            ORDER BY r DESC, fc.id
            LIMIT k
        ) t;
    END IF;

    IF qvec IS NOT NULL THEN
        dim := vector_dims(qvec);
        IF dim IN (256, 384, 512, 768, 1024, 1536) THEN
            PERFORM set_config('hnsw.iterative_scan', 'relaxed_order', true);
            PERFORM set_config('hnsw.ef_search', greatest(k * 2, 40)::text, true);
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


def grant_to_app(signature: str) -> str:
    return f"""DO $$ BEGIN
        IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{APP_ROLE}') THEN
            GRANT EXECUTE ON FUNCTION {signature} TO {APP_ROLE};
        ELSE
            RAISE WARNING 'role {APP_ROLE} does not exist: grant it EXECUTE ON FUNCTION {signature}';
        END IF;
    END $$"""


def upgrade() -> None:
    op.execute(TABLES)
    for dim in HNSW_DIMS:
        op.execute(
            f"CREATE INDEX ix_file_chunks_embedding_{dim} ON file_chunks "
            f"USING hnsw ((embedding::vector({dim})) vector_cosine_ops) WHERE embedding_dim = {dim}"
        )
    for table in TENANT_TABLES:
        for statement in enable_tenant_rls(table):
            op.execute(statement)
    op.execute(MATCH_FUNCTION)
    op.execute(f"REVOKE ALL ON FUNCTION {SIGNATURE} FROM PUBLIC")
    op.execute(grant_to_app(SIGNATURE))


def downgrade() -> None:
    op.execute(f"DROP FUNCTION IF EXISTS {SIGNATURE}")
    for table in reversed(TENANT_TABLES):
        for statement in disable_tenant_rls(table):
            op.execute(statement)
        op.execute(f"DROP TABLE IF EXISTS {table}")
