"""agents, agent_versions, agent_templates; conversations.agent_id/agent_version; users.plan (models/agents.py)

Revision ID: 0014
Revises: 0013

RLS as on every tenant table. The gallery reads a workspace's shared agents by (tenant, visibility, name) and a
member's own by (author, updated_at). New columns on conversations and users are nullable or have constant
defaults: no table rewrite.
"""

from __future__ import annotations

from alembic import op

from models.rls import disable_tenant_rls, enable_tenant_rls

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

TABLES = ("agents", "agent_versions", "agent_templates")

DDL = """
CREATE TABLE agents (
    id uuid PRIMARY KEY,
    tenant_id uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    author_id uuid REFERENCES users(id) ON DELETE SET NULL,
    name varchar(80) NOT NULL,
    description varchar(300) NOT NULL DEFAULT '',
    avatar varchar(16) NOT NULL DEFAULT '',
    avatar_file_id uuid REFERENCES files(id) ON DELETE SET NULL,
    category varchar(40) NOT NULL DEFAULT '',
    instructions text NOT NULL DEFAULT '',
    model varchar(250) NOT NULL DEFAULT '',
    temperature double precision,
    max_tokens integer,
    max_steps integer NOT NULL DEFAULT 5,
    tools jsonb NOT NULL DEFAULT '[]'::jsonb,
    knowledge jsonb NOT NULL DEFAULT '{}'::jsonb,
    starters jsonb NOT NULL DEFAULT '[]'::jsonb,
    min_plan varchar(20) NOT NULL DEFAULT 'free',
    visibility varchar(20) NOT NULL DEFAULT 'private',
    template_key varchar(80) NOT NULL DEFAULT '',
    version integer NOT NULL DEFAULT 1,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    CONSTRAINT ck_agents_visibility CHECK (visibility IN ('private', 'tenant', 'featured')),
    CONSTRAINT ck_agents_min_plan CHECK (min_plan IN ('free', 'pro', 'premium'))
);
CREATE INDEX ix_agents_tenant_id ON agents (tenant_id);
CREATE INDEX ix_agents_tenant_shared ON agents (tenant_id, visibility, name);
CREATE INDEX ix_agents_author_recent ON agents (author_id, updated_at DESC);
CREATE INDEX ix_agents_avatar_file_id ON agents (avatar_file_id);

CREATE TABLE agent_versions (
    id uuid PRIMARY KEY,
    tenant_id uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    agent_id uuid NOT NULL REFERENCES agents(id) ON DELETE CASCADE,
    version integer NOT NULL,
    snapshot jsonb NOT NULL DEFAULT '{}'::jsonb,
    author_id uuid REFERENCES users(id) ON DELETE SET NULL,
    created_at timestamptz NOT NULL,
    CONSTRAINT uq_agent_versions_agent_version UNIQUE (agent_id, version)
);
CREATE INDEX ix_agent_versions_tenant_id ON agent_versions (tenant_id);

CREATE TABLE agent_templates (
    id uuid PRIMARY KEY,
    tenant_id uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    name varchar(80) NOT NULL,
    description varchar(300) NOT NULL DEFAULT '',
    category varchar(40) NOT NULL DEFAULT '',
    avatar varchar(16) NOT NULL DEFAULT '',
    instructions text NOT NULL DEFAULT '',
    starters jsonb NOT NULL DEFAULT '[]'::jsonb,
    tools jsonb NOT NULL DEFAULT '[]'::jsonb,
    temperature double precision,
    hidden boolean NOT NULL DEFAULT false,
    created_by uuid REFERENCES users(id) ON DELETE SET NULL,
    created_at timestamptz NOT NULL
);
CREATE INDEX ix_agent_templates_tenant_id ON agent_templates (tenant_id);

ALTER TABLE conversations ADD COLUMN agent_id uuid REFERENCES agents(id) ON DELETE SET NULL;
ALTER TABLE conversations ADD COLUMN agent_version integer;
CREATE INDEX ix_conversations_agent_id ON conversations (agent_id);
ALTER TABLE users ADD COLUMN plan varchar(20) NOT NULL DEFAULT 'free';
"""


def upgrade() -> None:
    op.execute(DDL)
    for table in TABLES:
        for statement in enable_tenant_rls(table):
            op.execute(statement)


def downgrade() -> None:
    op.execute("ALTER TABLE users DROP COLUMN IF EXISTS plan")
    op.execute("DROP INDEX IF EXISTS ix_conversations_agent_id")
    op.execute("ALTER TABLE conversations DROP COLUMN IF EXISTS agent_version")
    op.execute("ALTER TABLE conversations DROP COLUMN IF EXISTS agent_id")
    for table in reversed(TABLES):
        for statement in disable_tenant_rls(table):
            op.execute(statement)
        op.execute(f"DROP TABLE IF EXISTS {table}")
