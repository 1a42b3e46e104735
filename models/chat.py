"""Chat: folders, conversations, messages (a tree), tags and token usage.

Messages form a tree per conversation: `parent_id` points at the message answered or continued, so editing a
message or regenerating a reply adds a sibling and keeps the old branch. `conversations.current_leaf_id` is the
message whose branch the UI shows. Adding a message is one INSERT plus a small UPDATE of its conversation.

Two composite foreign keys keep the tree inside one conversation:
- (messages.conversation_id, messages.parent_id) -> messages (conversation_id, id);
- (conversations.id, conversations.current_leaf_id) -> messages (conversation_id, id), deferred to commit so a
  conversation and its messages can be written in either order (bulk import, add-message).

The full-text columns (`conversations.search`, `messages.search`) are Postgres GENERATED ... STORED tsvectors
(migration 0002 explains the 'simple' configuration). They are added to the tables below, with their GIN
indexes, but not mapped on the classes: the ORM never loads or writes them; services query them with SQL.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    CheckConstraint,
    Column,
    Computed,
    ForeignKeyConstraint,
    Index,
    PrimaryKeyConstraint,
    Text,
    UniqueConstraint,
)
from sqlalchemy import text as sql
from sqlalchemy.dialects.postgresql import JSONB, TSVECTOR, UUID
from sqlmodel import Field, SQLModel

from models.base import fk, id_field, tenant_fk, ts

MESSAGE_ROLES = ("user", "assistant", "system", "tool")
MESSAGE_STATUSES = ("complete", "unfinished", "error")
TEXT_SEARCH_CONFIG = "simple"  # see migration 0002 for why
MESSAGE_SEARCH_CHARS = 100_000  # only the first characters of a message are indexed (a tsvector is <= 1 MB)


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class Folder(SQLModel, table=True):
    __tablename__ = "folders"
    __table_args__ = (UniqueConstraint("user_id", "name", name="uq_folders_user_name"),)

    id: uuid.UUID = id_field()
    tenant_id: uuid.UUID = tenant_fk()
    user_id: uuid.UUID = fk("users", index=False)  # the unique (user_id, name) index serves lookups
    name: str = Field(max_length=100)
    created_at: datetime = ts()


class Conversation(SQLModel, table=True):
    __tablename__ = "conversations"
    __table_args__ = (
        # The sidebar: a user's conversations, pinned first, most recent activity first (keyset on the tail).
        Index(
            "ix_conversations_sidebar",
            "user_id",
            "archived",
            sql("pinned DESC"),
            sql("updated_at DESC"),
            sql("id DESC"),
        ),
        # Search of very common words: a user's conversations, most recent activity first (migration 0006).
        Index("ix_conversations_user_recent", "user_id", sql("updated_at DESC"), sql("id DESC")),
        # A folder's conversations in sidebar order; also serves the ON DELETE SET NULL of folder_id.
        Index(
            "ix_conversations_folder",
            "folder_id",
            sql("pinned DESC"),
            sql("updated_at DESC"),
            sql("id DESC"),
        ),
        ForeignKeyConstraint(
            ["id", "current_leaf_id"],
            ["messages.conversation_id", "messages.id"],
            name="fk_conversations_current_leaf",
            deferrable=True,
            initially="DEFERRED",
            use_alter=True,
        ),
    )

    id: uuid.UUID = id_field()
    tenant_id: uuid.UUID = tenant_fk()
    user_id: uuid.UUID = fk("users", index=False)  # ix_conversations_sidebar starts with user_id
    title: str = Field(default="New chat", max_length=300)
    provider: str = Field(default="", max_length=40)
    model: str = Field(default="", max_length=200)
    folder_id: uuid.UUID | None = fk("folders", nullable=True, ondelete="SET NULL", index=False)
    pinned: bool = False
    archived: bool = False
    created_at: datetime = ts()
    updated_at: datetime = ts()  # last activity: set when a message is added
    current_leaf_id: uuid.UUID | None = Field(
        default=None, sa_column=Column(UUID(as_uuid=True), nullable=True)
    )
    memory_read_at: datetime | None = ts(nullable=True)  # memory extraction has read its messages up to this
    # The agent the conversation chats with (None: plain chat), and the version it started with.
    agent_id: uuid.UUID | None = fk("agents", nullable=True, ondelete="SET NULL")
    agent_version: int | None = None


class Message(SQLModel, table=True):
    __tablename__ = "messages"
    __table_args__ = (
        # Unique so the composite foreign keys can reference it; also "all messages of a conversation".
        UniqueConstraint("conversation_id", "id", name="uq_messages_conversation_id"),
        ForeignKeyConstraint(
            ["conversation_id", "parent_id"],
            ["messages.conversation_id", "messages.id"],
            name="fk_messages_parent",
            ondelete="CASCADE",
        ),
        # Children of a message (branch navigation) and the cascade of the parent foreign key.
        Index("ix_messages_parent", "conversation_id", "parent_id"),
        CheckConstraint(_in("role", MESSAGE_ROLES), name="ck_messages_role"),
        CheckConstraint(_in("status", MESSAGE_STATUSES), name="ck_messages_status"),
    )

    id: uuid.UUID = id_field()
    tenant_id: uuid.UUID = tenant_fk()
    conversation_id: uuid.UUID = fk("conversations", index=False)  # uq_messages_conversation_id serves it
    parent_id: uuid.UUID | None = Field(default=None, sa_column=Column(UUID(as_uuid=True), nullable=True))
    role: str = Field(max_length=20)
    text: str = Field(default="", sa_column=Column(Text, nullable=False, server_default=""))
    # Structured parts beyond the text, in order: tool calls, tool results, files. `[]` for plain text.
    content_parts: list[dict[str, Any]] = Field(
        default_factory=list, sa_column=Column(JSONB, nullable=False, server_default=sql("'[]'::jsonb"))
    )
    status: str = Field(default="complete", max_length=20)
    error_text: str = Field(default="", max_length=2000)
    provider: str = Field(default="", max_length=40)
    model: str = Field(default="", max_length=200)
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    ttft_ms: int | None = None
    duration_ms: int | None = None
    created_at: datetime = ts()


class Tag(SQLModel, table=True):
    __tablename__ = "tags"
    __table_args__ = (UniqueConstraint("user_id", "name", name="uq_tags_user_name"),)

    id: uuid.UUID = id_field()
    tenant_id: uuid.UUID = tenant_fk()
    user_id: uuid.UUID = fk("users", index=False)
    name: str = Field(max_length=50)
    created_at: datetime = ts()


class ConversationTag(SQLModel, table=True):
    __tablename__ = "conversation_tags"
    __table_args__ = (
        PrimaryKeyConstraint("conversation_id", "tag_id", name="pk_conversation_tags"),
        Index("ix_conversation_tags_tag", "tag_id", "conversation_id"),
    )

    conversation_id: uuid.UUID = fk("conversations", index=False)
    tag_id: uuid.UUID = fk("tags", index=False)
    tenant_id: uuid.UUID = tenant_fk()


class UsageRecord(SQLModel, table=True):
    """Tokens used by one model reply. Kept when its conversation is deleted (the links become NULL)."""

    __tablename__ = "usage_records"
    __table_args__ = (
        Index("ix_usage_records_tenant_time", "tenant_id", "created_at"),
        Index("ix_usage_records_user_time", "user_id", "created_at"),
    )

    id: uuid.UUID = id_field()
    tenant_id: uuid.UUID = tenant_fk()
    user_id: uuid.UUID = fk("users", index=False)
    conversation_id: uuid.UUID | None = fk("conversations", nullable=True, ondelete="SET NULL")
    message_id: uuid.UUID | None = fk("messages", nullable=True, ondelete="SET NULL")
    provider: str = Field(default="", max_length=40)
    model: str = Field(default="", max_length=200)
    prompt_tokens: int = 0
    completion_tokens: int = 0
    created_at: datetime = ts()


def _add_search_column(table: Any, expression: str) -> None:
    """A generated tsvector column and its GIN index on the Table only (the mapped class does not see it)."""
    column = Column("search", TSVECTOR, Computed(expression, persisted=True))
    table.append_column(column)
    Index(f"ix_{table.name}_search", column, postgresql_using="gin")


_add_search_column(
    SQLModel.metadata.tables["conversations"],
    f"setweight(to_tsvector('{TEXT_SEARCH_CONFIG}'::regconfig, title), 'A')",
)
# The names of the files a message attaches, as words ("Q3 board-report.pdf" -> "Q3 board report pdf"), so that a
# search finds the message by them (migration 0010). jsonb_path_query_array is immutable, as a generated column
# needs.
MESSAGE_FILE_NAMES = (
    "translate(coalesce(jsonb_path_query_array(content_parts, '$[*] ? (@.type == \"file\").name')::text, ''), "
    "'._-[]\"', '      ')"
)
MESSAGE_SEARCH = f"to_tsvector('{TEXT_SEARCH_CONFIG}'::regconfig, left(text, {MESSAGE_SEARCH_CHARS}) || ' ' || {MESSAGE_FILE_NAMES})"
_add_search_column(SQLModel.metadata.tables["messages"], MESSAGE_SEARCH)
