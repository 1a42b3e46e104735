"""Agents (issue 10): instructions + a model + tools + knowledge, used by members in chat.

`agents` holds each agent's current definition (what the gallery lists and a chat runs); every save also writes an
`agent_versions` row with the whole definition as a JSON snapshot, numbered 1, 2, ... per agent, so versions can be
listed, compared and restored (a restore is a new version). `visibility`: `private` (its author only), `tenant`
(every member of the workspace), `featured` (shared and shown first; admins choose). `min_plan` gates who may chat
with it (`users.plan`: free < pro < premium). `tools` is a list of `{"name", "settings"}`; `knowledge` is
`{"files": [ids], "collections": [ids]}`, checked against what the member may read when the agent runs.
`agent_templates` are a workspace's own templates (the seeded ones are code: services/agents/templates.py; a
workspace hides those in `tenants.config.agents.hidden_templates`).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import CheckConstraint, Column, Index, Text, UniqueConstraint
from sqlalchemy import text as sql
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Field, SQLModel

from models.base import fk, id_field, tenant_fk, ts

AGENT_VISIBILITIES = ("private", "tenant", "featured")
PLAN_TIERS = ("free", "pro", "premium")


def _json_list() -> Any:
    return Field(
        default_factory=list, sa_column=Column(JSONB, nullable=False, server_default=sql("'[]'::jsonb"))
    )


def _json_dict() -> Any:
    return Field(
        default_factory=dict, sa_column=Column(JSONB, nullable=False, server_default=sql("'{}'::jsonb"))
    )


class Agent(SQLModel, table=True):
    __tablename__ = "agents"
    __table_args__ = (
        # The gallery: a workspace's shared agents, featured first, then by name.
        Index("ix_agents_tenant_shared", "tenant_id", "visibility", "name"),
        # A member's own agents, most recently changed first.
        Index("ix_agents_author_recent", "author_id", sql("updated_at DESC")),
        CheckConstraint("visibility IN ('private', 'tenant', 'featured')", name="ck_agents_visibility"),
        CheckConstraint("min_plan IN ('free', 'pro', 'premium')", name="ck_agents_min_plan"),
    )

    id: uuid.UUID = id_field()
    tenant_id: uuid.UUID = tenant_fk()
    author_id: uuid.UUID | None = fk("users", nullable=True, ondelete="SET NULL", index=False)
    name: str = Field(max_length=80)
    description: str = Field(default="", max_length=300)
    avatar: str = Field(
        default="", max_length=80
    )  # an emoji, or "image:<sha256>" (services/agents/avatars.py)
    category: str = Field(default="", max_length=40)
    instructions: str = Field(default="", sa_column=Column(Text, nullable=False, server_default=""))
    model: str = Field(default="", max_length=250)  # a model key, "<provider>/<model>"
    temperature: float | None = None
    max_tokens: int | None = None
    max_steps: int = 5
    tools: list[dict[str, Any]] = _json_list()
    knowledge: dict[str, Any] = _json_dict()
    starters: list[str] = _json_list()
    min_plan: str = Field(default="free", max_length=20)
    visibility: str = Field(default="private", max_length=20)
    template_key: str = Field(default="", max_length=80)
    version: int = 1
    created_at: datetime = ts()
    updated_at: datetime = ts()


class AgentVersion(SQLModel, table=True):
    __tablename__ = "agent_versions"
    __table_args__ = (UniqueConstraint("agent_id", "version", name="uq_agent_versions_agent_version"),)

    id: uuid.UUID = id_field()
    tenant_id: uuid.UUID = tenant_fk()
    agent_id: uuid.UUID = fk("agents", index=False)  # the unique (agent_id, version) index serves it
    version: int
    snapshot: dict[str, Any] = _json_dict()
    author_id: uuid.UUID | None = fk("users", nullable=True, ondelete="SET NULL", index=False)
    created_at: datetime = ts()


class AgentTemplate(SQLModel, table=True):
    """A template a workspace's admins wrote (the seeded ones are in code)."""

    __tablename__ = "agent_templates"

    id: uuid.UUID = id_field()
    tenant_id: uuid.UUID = tenant_fk()
    name: str = Field(max_length=80)
    description: str = Field(default="", max_length=300)
    category: str = Field(default="", max_length=40)
    avatar: str = Field(default="", max_length=80)
    instructions: str = Field(default="", sa_column=Column(Text, nullable=False, server_default=""))
    starters: list[str] = _json_list()
    tools: list[dict[str, Any]] = _json_list()
    temperature: float | None = None
    hidden: bool = False
    created_by: uuid.UUID | None = fk("users", nullable=True, ondelete="SET NULL", index=False)
    created_at: datetime = ts()


class McpServer(SQLModel, table=True):
    """An MCP server a workspace's admins added (services/tools/mcp.py): its streamable-HTTP URL, the headers
    sent with every request (a token...; encrypted, never shown again), and the tools it listed when last
    checked (`tools`: name, description, input schema), which agents may then use."""

    __tablename__ = "mcp_servers"
    __table_args__ = (UniqueConstraint("tenant_id", "slug", name="uq_mcp_servers_tenant_slug"),)

    id: uuid.UUID = id_field()
    tenant_id: uuid.UUID = tenant_fk()
    name: str = Field(max_length=80)
    slug: str = Field(max_length=24)  # the prefix of its tools' names: mcp_<slug>_<tool>
    url: str = Field(max_length=500)
    headers_encrypted: str | None = Field(default=None, max_length=8000)
    header_names: list[str] = _json_list()  # shown in Admin (the values are not)
    tools: list[dict[str, Any]] = _json_list()
    enabled: bool = True
    error: str = Field(default="", max_length=1000)
    checked_at: datetime | None = ts(nullable=True)
    created_by: uuid.UUID | None = fk("users", nullable=True, ondelete="SET NULL", index=False)
    created_at: datetime = ts()
