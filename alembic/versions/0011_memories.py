"""memories: what the assistant keeps about each member (models/memory.py)

Revision ID: 0011
Revises: 0010

RLS as on every tenant table. A member has at most a few hundred memories, so the turn compares the question's
embedding with all of them exactly (no vector index): `ix_memories_user_recent` finds them. `embedding` is a
dimensionless vector kept in the row (STORAGE MAIN), as the chunks' since migration 0009.
"""

from __future__ import annotations

from alembic import op

from models.rls import disable_tenant_rls, enable_tenant_rls

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

TABLE = """
CREATE TABLE memories (
    id uuid PRIMARY KEY,
    tenant_id uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    user_id uuid NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    agent_id uuid,
    text text NOT NULL,
    key varchar(80) NOT NULL DEFAULT '',
    category varchar(20) NOT NULL DEFAULT 'other',
    source varchar(20) NOT NULL DEFAULT 'manual',
    conversation_id uuid REFERENCES conversations(id) ON DELETE SET NULL,
    message_id uuid REFERENCES messages(id) ON DELETE SET NULL,
    pinned boolean NOT NULL DEFAULT false,
    tokens integer NOT NULL DEFAULT 0,
    embedding_dim integer,
    embedding vector,
    times_used integer NOT NULL DEFAULT 0,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    last_used_at timestamptz,
    CONSTRAINT ck_memories_category CHECK (category IN ('profile', 'preference', 'goal', 'business', 'other')),
    CONSTRAINT ck_memories_source CHECK (source IN ('extracted', 'explicit', 'manual', 'imported')),
    CONSTRAINT ck_memories_dim CHECK (embedding IS NULL OR vector_dims(embedding) = embedding_dim)
);
ALTER TABLE memories ALTER COLUMN embedding SET STORAGE MAIN;
CREATE INDEX ix_memories_tenant_id ON memories (tenant_id);
CREATE INDEX ix_memories_user_recent ON memories (user_id, updated_at DESC, id DESC);
CREATE INDEX ix_memories_conversation_id ON memories (conversation_id);
CREATE INDEX ix_memories_message_id ON memories (message_id);
"""


def upgrade() -> None:
    op.execute(TABLE)
    for statement in enable_tenant_rls("memories"):
        op.execute(statement)


def downgrade() -> None:
    for statement in disable_tenant_rls("memories"):
        op.execute(statement)
    op.execute("DROP TABLE IF EXISTS memories")
