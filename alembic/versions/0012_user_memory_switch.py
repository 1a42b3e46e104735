"""users.memory_enabled: the member's "Use memory" switch (the Memory page)

Revision ID: 0012
Revises: 0011

Off: the reply turn neither puts the member's memories in a request nor saves new ones. A column with a constant
default: no table rewrite.
"""

from __future__ import annotations

from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("ALTER TABLE users ADD COLUMN memory_enabled boolean NOT NULL DEFAULT true")


def downgrade() -> None:
    op.execute("ALTER TABLE users DROP COLUMN memory_enabled")
