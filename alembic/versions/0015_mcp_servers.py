"""mcp_servers: a workspace's MCP servers and the tools they offer (models/agents.py McpServer)

Revision ID: 0015
Revises: 0014

RLS as on every tenant table. Headers (tokens) are stored encrypted like provider keys.
"""

from __future__ import annotations

from alembic import op

from models.rls import disable_tenant_rls, enable_tenant_rls

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

DDL = """
CREATE TABLE mcp_servers (
    id uuid PRIMARY KEY,
    tenant_id uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    name varchar(80) NOT NULL,
    slug varchar(24) NOT NULL,
    url varchar(500) NOT NULL,
    headers_encrypted varchar(8000),
    header_names jsonb NOT NULL DEFAULT '[]'::jsonb,
    tools jsonb NOT NULL DEFAULT '[]'::jsonb,
    enabled boolean NOT NULL DEFAULT true,
    error varchar(1000) NOT NULL DEFAULT '',
    checked_at timestamptz,
    created_by uuid REFERENCES users(id) ON DELETE SET NULL,
    created_at timestamptz NOT NULL,
    CONSTRAINT uq_mcp_servers_tenant_slug UNIQUE (tenant_id, slug)
);
CREATE INDEX ix_mcp_servers_tenant_id ON mcp_servers (tenant_id);
"""


def upgrade() -> None:
    op.execute(DDL)
    for statement in enable_tenant_rls("mcp_servers"):
        op.execute(statement)


def downgrade() -> None:
    for statement in disable_tenant_rls("mcp_servers"):
        op.execute(statement)
    op.execute("DROP TABLE IF EXISTS mcp_servers")
