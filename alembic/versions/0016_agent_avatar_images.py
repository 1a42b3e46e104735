"""agents.avatar and agent_templates.avatar hold an emoji or an uploaded image ("image:<sha256>"); the unused
agents.avatar_file_id goes (a knowledge file is its uploader's, an avatar is seen by every member who sees the agent;
images are kept apart, see services/agents/avatars.py)

Revision ID: 0016
Revises: 0015
"""

from __future__ import annotations

from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("ALTER TABLE agents ALTER COLUMN avatar TYPE varchar(80)")
    op.execute("ALTER TABLE agent_templates ALTER COLUMN avatar TYPE varchar(80)")
    op.execute("DROP INDEX IF EXISTS ix_agents_avatar_file_id")
    op.execute("ALTER TABLE agents DROP COLUMN avatar_file_id")


def downgrade() -> None:
    op.execute("ALTER TABLE agents ADD COLUMN avatar_file_id uuid REFERENCES files(id) ON DELETE SET NULL")
    op.execute("CREATE INDEX ix_agents_avatar_file_id ON agents (avatar_file_id)")
    op.execute("UPDATE agents SET avatar = '' WHERE length(avatar) > 16")
    op.execute("UPDATE agent_templates SET avatar = '' WHERE length(avatar) > 16")
    op.execute("ALTER TABLE agents ALTER COLUMN avatar TYPE varchar(16)")
    op.execute("ALTER TABLE agent_templates ALTER COLUMN avatar TYPE varchar(16)")
