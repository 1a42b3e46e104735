"""memory_extractions: what each extraction job did; conversations.memory_read_at (services/memory/extract.py)

Revision ID: 0013
Revises: 0012

One row per run of a member's extraction job: the conversations it read, the model, the tokens, the operations it
applied (kinds and memory ids only, no text: "Forget everything" leaves nothing of a memory behind here) and, when
it failed, why. RLS as on every tenant table; deleting the member deletes their rows.

`conversations.memory_read_at`: the newest message of the conversation a successful run has read (the next run
reads only newer ones). A nullable column without a default: no table rewrite.
"""

from __future__ import annotations

from alembic import op

from models.rls import disable_tenant_rls, enable_tenant_rls

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

TABLE = """
CREATE TABLE memory_extractions (
    id uuid PRIMARY KEY,
    tenant_id uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    user_id uuid NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    conversation_ids uuid[] NOT NULL DEFAULT '{}',
    status varchar(20) NOT NULL,
    model varchar(250) NOT NULL DEFAULT '',
    messages integer NOT NULL DEFAULT 0,
    input_tokens integer NOT NULL DEFAULT 0,
    prompt_tokens integer,
    completion_tokens integer,
    operations jsonb NOT NULL DEFAULT '[]'::jsonb,
    error text NOT NULL DEFAULT '',
    created_at timestamptz NOT NULL,
    CONSTRAINT ck_memory_extractions_status CHECK (status IN ('done', 'failed'))
);
CREATE INDEX ix_memory_extractions_tenant_id ON memory_extractions (tenant_id);
CREATE INDEX ix_memory_extractions_user ON memory_extractions (user_id, created_at DESC);
ALTER TABLE conversations ADD COLUMN memory_read_at timestamptz;
"""


def upgrade() -> None:
    op.execute(TABLE)
    for statement in enable_tenant_rls("memory_extractions"):
        op.execute(statement)


def downgrade() -> None:
    op.execute("ALTER TABLE conversations DROP COLUMN IF EXISTS memory_read_at")
    for statement in disable_tenant_rls("memory_extractions"):
        op.execute(statement)
    op.execute("DROP TABLE IF EXISTS memory_extractions")
