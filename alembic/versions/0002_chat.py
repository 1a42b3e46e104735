"""chat: folders, conversations, messages (tree), tags, usage records

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26 09:00:00

Full-text search uses the 'simple' text search configuration everywhere (generated columns, queries and
snippets): workspaces write in any language, and 'simple' lower-cases words without stemming or dropping stop
words, so French, German or code identifiers are indexed as written and a search never silently ignores a word.
The price is no stemming for English ("runs" does not find "running"). Query and index must use the same
configuration, so changing it later means a migration that rewrites both generated columns.

Messages index at most their first 100,000 characters: a tsvector is limited to 1 MB and a very long paste
must not make an INSERT fail.

Row-level security and GIN: the text-match operator `@@` (ts_match_vq) is not LEAKPROOF, so under RLS Postgres
must check the tenant policy before it and cannot use a GIN index for it: every search would read all of the
tenant's messages. `chat_search_matches(query, user)` is the way around it: a SECURITY DEFINER function (owned by
the migration role) that applies the same tenant rule itself, from the same `app.current_tenant_id` setting,
plus the user, and returns only ids and ranks, and only to a caller that may read the tables itself: it shows
nothing the caller could not select under RLS. The search query joins its rows back to `conversations` and
`messages` under RLS, so text never leaves the tenant even if the function were wrong. When the owner is itself
subject to RLS (a non-superuser owner without BYPASSRLS), the function is still correct, just not faster.
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op
from sqlalchemy.dialects import postgresql

from models.rls import disable_tenant_rls, enable_tenant_rls

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


TENANT_TABLES = ("folders", "conversations", "messages", "tags", "conversation_tags", "usage_records")

CONVERSATION_SEARCH = "setweight(to_tsvector('simple'::regconfig, title), 'A')"
MESSAGE_SEARCH = "to_tsvector('simple'::regconfig, left(text, 100000))"

SEARCH_FUNCTION = """
CREATE FUNCTION chat_search_matches(query tsquery, for_user uuid)
RETURNS TABLE (conversation_id uuid, message_id uuid, rank real, created_at timestamptz)
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT c.id, NULL::uuid, ts_rank(c.search, query), c.updated_at
    FROM public.conversations c
    WHERE c.search @@ query
      AND c.tenant_id = NULLIF(current_setting('app.current_tenant_id', true), '')::uuid
      AND c.user_id = for_user
      AND has_table_privilege(session_user, 'public.conversations', 'SELECT')
    UNION ALL
    SELECT m.conversation_id, m.id, ts_rank(m.search, query, 1), m.created_at
    FROM public.messages m
    JOIN public.conversations c ON c.id = m.conversation_id
    WHERE m.search @@ query
      AND m.tenant_id = NULLIF(current_setting('app.current_tenant_id', true), '')::uuid
      AND c.tenant_id = m.tenant_id
      AND c.user_id = for_user
      AND has_table_privilege(session_user, 'public.messages', 'SELECT')
      AND has_table_privilege(session_user, 'public.conversations', 'SELECT')
$$
"""


def upgrade() -> None:
    op.create_table(
        "folders",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.UUID(), nullable=False),
        sa.Column("user_id", sa.UUID(), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("user_id", "name", name="uq_folders_user_name"),
    )
    op.create_index(op.f("ix_folders_tenant_id"), "folders", ["tenant_id"], unique=False)

    op.create_table(
        "conversations",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.UUID(), nullable=False),
        sa.Column("user_id", sa.UUID(), nullable=False),
        sa.Column("title", sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
        sa.Column("provider", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("model", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("folder_id", sa.UUID(), nullable=True),
        sa.Column("pinned", sa.Boolean(), nullable=False),
        sa.Column("archived", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("current_leaf_id", sa.UUID(), nullable=True),
        sa.Column("search", postgresql.TSVECTOR(), sa.Computed(CONVERSATION_SEARCH, persisted=True)),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["folder_id"], ["folders.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_conversations_tenant_id"), "conversations", ["tenant_id"], unique=False)
    # The sidebar query: WHERE user_id = ? AND archived = ? ORDER BY pinned DESC, updated_at DESC, id DESC,
    # continued with the keyset (pinned, updated_at, id) < (?, ?, ?).
    op.create_index(
        "ix_conversations_sidebar",
        "conversations",
        ["user_id", "archived", sa.text("pinned DESC"), sa.text("updated_at DESC"), sa.text("id DESC")],
        unique=False,
    )
    op.create_index(
        "ix_conversations_folder",
        "conversations",
        ["folder_id", sa.text("pinned DESC"), sa.text("updated_at DESC"), sa.text("id DESC")],
        unique=False,
    )
    op.create_index(
        "ix_conversations_search", "conversations", ["search"], unique=False, postgresql_using="gin"
    )

    op.create_table(
        "messages",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.UUID(), nullable=False),
        sa.Column("conversation_id", sa.UUID(), nullable=False),
        sa.Column("parent_id", sa.UUID(), nullable=True),
        sa.Column("role", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("text", sa.Text(), server_default="", nullable=False),
        sa.Column(
            "content_parts",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'[]'::jsonb"),
            nullable=False,
        ),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("error_text", sqlmodel.sql.sqltypes.AutoString(length=2000), nullable=False),
        sa.Column("provider", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("model", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("prompt_tokens", sa.Integer(), nullable=True),
        sa.Column("completion_tokens", sa.Integer(), nullable=True),
        sa.Column("ttft_ms", sa.Integer(), nullable=True),
        sa.Column("duration_ms", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("search", postgresql.TSVECTOR(), sa.Computed(MESSAGE_SEARCH, persisted=True)),
        sa.CheckConstraint("role IN ('user', 'assistant', 'system', 'tool')", name="ck_messages_role"),
        sa.CheckConstraint("status IN ('complete', 'unfinished', 'error')", name="ck_messages_status"),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["conversation_id"], ["conversations.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("conversation_id", "id", name="uq_messages_conversation_id"),
        sa.ForeignKeyConstraint(
            ["conversation_id", "parent_id"],
            ["messages.conversation_id", "messages.id"],
            name="fk_messages_parent",
            ondelete="CASCADE",
        ),
    )
    op.create_index(op.f("ix_messages_tenant_id"), "messages", ["tenant_id"], unique=False)
    op.create_index("ix_messages_parent", "messages", ["conversation_id", "parent_id"], unique=False)
    op.create_index("ix_messages_search", "messages", ["search"], unique=False, postgresql_using="gin")

    # The branch the UI shows must end in a message of the same conversation. Deferred to commit, so a
    # conversation can point at a message written later in the same transaction.
    op.create_foreign_key(
        "fk_conversations_current_leaf",
        "conversations",
        "messages",
        ["id", "current_leaf_id"],
        ["conversation_id", "id"],
        deferrable=True,
        initially="DEFERRED",
    )

    op.create_table(
        "tags",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.UUID(), nullable=False),
        sa.Column("user_id", sa.UUID(), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=50), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("user_id", "name", name="uq_tags_user_name"),
    )
    op.create_index(op.f("ix_tags_tenant_id"), "tags", ["tenant_id"], unique=False)

    op.create_table(
        "conversation_tags",
        sa.Column("conversation_id", sa.UUID(), nullable=False),
        sa.Column("tag_id", sa.UUID(), nullable=False),
        sa.Column("tenant_id", sa.UUID(), nullable=False),
        sa.ForeignKeyConstraint(["conversation_id"], ["conversations.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["tag_id"], ["tags.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("conversation_id", "tag_id", name="pk_conversation_tags"),
    )
    op.create_index(
        "ix_conversation_tags_tag", "conversation_tags", ["tag_id", "conversation_id"], unique=False
    )
    op.create_index(op.f("ix_conversation_tags_tenant_id"), "conversation_tags", ["tenant_id"], unique=False)

    op.create_table(
        "usage_records",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.UUID(), nullable=False),
        sa.Column("user_id", sa.UUID(), nullable=False),
        sa.Column("conversation_id", sa.UUID(), nullable=True),
        sa.Column("message_id", sa.UUID(), nullable=True),
        sa.Column("provider", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("model", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("prompt_tokens", sa.Integer(), nullable=False),
        sa.Column("completion_tokens", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["conversation_id"], ["conversations.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["message_id"], ["messages.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_usage_records_tenant_id"), "usage_records", ["tenant_id"], unique=False)
    op.create_index(
        "ix_usage_records_tenant_time", "usage_records", ["tenant_id", "created_at"], unique=False
    )
    op.create_index("ix_usage_records_user_time", "usage_records", ["user_id", "created_at"], unique=False)
    # These two serve the ON DELETE SET NULL when a conversation (and its messages) is deleted.
    op.create_index(
        op.f("ix_usage_records_conversation_id"), "usage_records", ["conversation_id"], unique=False
    )
    op.create_index(op.f("ix_usage_records_message_id"), "usage_records", ["message_id"], unique=False)

    for table in TENANT_TABLES:
        for statement in enable_tenant_rls(table):
            op.execute(statement)

    op.execute(SEARCH_FUNCTION)


def downgrade() -> None:
    op.execute("DROP FUNCTION IF EXISTS chat_search_matches(tsquery, uuid)")
    for table in TENANT_TABLES:
        for statement in disable_tenant_rls(table):
            op.execute(statement)
    op.drop_table("usage_records")
    op.drop_table("conversation_tags")
    op.drop_table("tags")
    op.drop_constraint("fk_conversations_current_leaf", "conversations", type_="foreignkey")
    op.drop_table("messages")
    op.drop_table("conversations")
    op.drop_table("folders")
