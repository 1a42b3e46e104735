"""oauth binding: bind an OAuth state to the browser that started it; link mode for signed-in users

Revision ID: 0004_oauth
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0004_oauth"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "oauth_states",
        sa.Column(
            "binding_hash", sqlmodel.sql.sqltypes.AutoString(length=64), server_default="", nullable=False
        ),
    )
    op.add_column("oauth_states", sa.Column("link_user_id", sa.Uuid(), nullable=True))
    op.create_foreign_key(
        "fk_oauth_states_link_user_id", "oauth_states", "users", ["link_user_id"], ["id"], ondelete="CASCADE"
    )


def downgrade() -> None:
    op.drop_constraint("fk_oauth_states_link_user_id", "oauth_states", type_="foreignkey")
    op.drop_column("oauth_states", "link_user_id")
    op.drop_column("oauth_states", "binding_hash")
