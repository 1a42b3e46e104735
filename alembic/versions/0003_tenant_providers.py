"""tenant providers: model providers a workspace adds itself (API keys encrypted at rest)

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op
from sqlalchemy.dialects import postgresql

from models.rls import disable_tenant_rls, enable_tenant_rls

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "tenant_providers",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.UUID(), nullable=False),
        sa.Column("provider_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("label", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("base_url", sqlmodel.sql.sqltypes.AutoString(length=2000), nullable=True),
        sa.Column("api_key_encrypted", sqlmodel.sql.sqltypes.AutoString(length=4000), nullable=True),
        sa.Column("key_hint", sqlmodel.sql.sqltypes.AutoString(length=12), nullable=False),
        sa.Column("models", postgresql.JSONB(astext_type=sa.Text()), server_default="[]", nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("tenant_id", "provider_id", name="uq_tenant_provider"),
    )
    op.create_index(op.f("ix_tenant_providers_tenant_id"), "tenant_providers", ["tenant_id"], unique=False)
    for statement in enable_tenant_rls("tenant_providers"):
        op.execute(statement)


def downgrade() -> None:
    for statement in disable_tenant_rls("tenant_providers"):
        op.execute(statement)
    op.drop_index(op.f("ix_tenant_providers_tenant_id"), table_name="tenant_providers")
    op.drop_table("tenant_providers")
