"""Memory: what the assistant keeps about a member across conversations (issue 9).

`memories`: one complete sentence each (`text`), a short label (`key`), a category, where it came from
(`source`: extracted by the assistant, said explicitly, typed on the Memory page, imported) and, when it came from
chat, the conversation and message; `pinned` ones are always used; `last_used_at` / `times_used` say when the
reply turn last put it in a request. `embedding` (a dimensionless `vector`, not mapped: services use SQL) and
`embedding_dim` are made with the tenant's embeddings model when there is one. Only its member reads a memory:
the services filter by user and RLS by tenant; `agent_id` (no agents yet) will scope one to an agent.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import CheckConstraint, Column, Index, Text
from sqlalchemy import text as sql
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, UUID
from sqlmodel import Field, SQLModel

from models.base import fk, id_field, tenant_fk, ts

MEMORY_CATEGORIES = ("profile", "preference", "goal", "business", "other")
MEMORY_SOURCES = ("extracted", "explicit", "manual", "imported")


class Memory(SQLModel, table=True):
    __tablename__ = "memories"
    __table_args__ = (
        # The Memory page and the turn's selection: a member's memories, newest first.
        Index("ix_memories_user_recent", "user_id", sql("updated_at DESC"), sql("id DESC")),
        CheckConstraint(
            "category IN ('profile', 'preference', 'goal', 'business', 'other')", name="ck_memories_category"
        ),
        CheckConstraint(
            "source IN ('extracted', 'explicit', 'manual', 'imported')", name="ck_memories_source"
        ),
    )

    id: uuid.UUID = id_field()
    tenant_id: uuid.UUID = tenant_fk()
    user_id: uuid.UUID = fk("users", index=False)  # ix_memories_user_recent starts with user_id
    agent_id: uuid.UUID | None = None
    text: str = Field(sa_column=Column(Text, nullable=False))
    key: str = Field(default="", max_length=80)
    category: str = Field(default="other", max_length=20)
    source: str = Field(default="manual", max_length=20)
    conversation_id: uuid.UUID | None = fk("conversations", nullable=True, ondelete="SET NULL")
    message_id: uuid.UUID | None = fk("messages", nullable=True, ondelete="SET NULL")
    pinned: bool = False
    tokens: int = 0
    embedding_dim: int | None = None
    times_used: int = 0
    created_at: datetime = ts()
    updated_at: datetime = ts()
    last_used_at: datetime | None = ts(nullable=True)


class MemoryExtraction(SQLModel, table=True):
    """One run of a member's extraction job (services/memory/extract.py, migration 0013): what it read and did.

    `operations`: `{"op": "add" | "update" | "delete", "memory_id": ...}` or `{"op": "skip", "why": ...}`; kinds
    and ids only, never the text. Which messages a conversation has had read: `conversations.memory_read_at`."""

    __tablename__ = "memory_extractions"
    __table_args__ = (
        Index("ix_memory_extractions_user", "user_id", sql("created_at DESC")),
        CheckConstraint("status IN ('done', 'failed')", name="ck_memory_extractions_status"),
    )

    id: uuid.UUID = id_field()
    tenant_id: uuid.UUID = tenant_fk()
    user_id: uuid.UUID = fk("users", index=False)
    conversation_ids: list[uuid.UUID] = Field(
        default_factory=list,
        sa_column=Column(ARRAY(UUID(as_uuid=True)), nullable=False, server_default=sql("'{}'")),
    )
    status: str = Field(max_length=20)
    model: str = Field(default="", max_length=250)
    messages: int = 0
    input_tokens: int = 0
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    operations: list[dict[str, Any]] = Field(
        default_factory=list, sa_column=Column(JSONB, nullable=False, server_default=sql("'[]'::jsonb"))
    )
    error: str = Field(default="", sa_column=Column(Text, nullable=False, server_default=""))
    created_at: datetime = ts()
