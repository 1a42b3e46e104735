"""plans: a workspace's plans and their limits (models/billing.py Plan); users.plan_id

Revision ID: 0017
Revises: 0016

RLS as on every tenant table. One default plan per workspace (a partial unique index). `users.plan_id` NULL means
the workspace's default plan; `users.plan` stays the tier the agents' gate reads.
"""

from __future__ import annotations

from alembic import op

from models.rls import disable_tenant_rls, enable_tenant_rls

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None

DDL = """
CREATE TABLE plans (
    id uuid PRIMARY KEY,
    tenant_id uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    key varchar(40) NOT NULL,
    name varchar(80) NOT NULL,
    description varchar(500) NOT NULL DEFAULT '',
    tier varchar(20) NOT NULL DEFAULT 'free',
    price_month_cents integer,
    price_year_cents integer,
    currency varchar(3) NOT NULL DEFAULT 'usd',
    stripe_price_month varchar(100) NOT NULL DEFAULT '',
    stripe_price_year varchar(100) NOT NULL DEFAULT '',
    limits jsonb NOT NULL DEFAULT '{}'::jsonb,
    is_default boolean NOT NULL DEFAULT false,
    archived boolean NOT NULL DEFAULT false,
    position integer NOT NULL DEFAULT 0,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    CONSTRAINT uq_plans_tenant_key UNIQUE (tenant_id, key),
    CONSTRAINT ck_plans_tier CHECK (tier IN ('free', 'pro', 'premium'))
);
CREATE INDEX ix_plans_tenant_id ON plans (tenant_id);
CREATE UNIQUE INDEX uq_plans_tenant_default ON plans (tenant_id) WHERE is_default;
ALTER TABLE users ADD COLUMN plan_id uuid REFERENCES plans(id) ON DELETE SET NULL;
CREATE INDEX ix_users_plan_id ON users (plan_id);
"""


def upgrade() -> None:
    op.execute(DDL)
    for statement in enable_tenant_rls("plans"):
        op.execute(statement)


def downgrade() -> None:
    op.execute("ALTER TABLE users DROP COLUMN IF EXISTS plan_id")
    for statement in disable_tenant_rls("plans"):
        op.execute(statement)
    op.execute("DROP TABLE IF EXISTS plans")
