from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Column, UniqueConstraint
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Field, SQLModel

from models.base import id_field, tenant_fk, ts


class TenantProvider(SQLModel, table=True):
    """A model provider a tenant's admins added (an OpenAI/Anthropic key of their own, or any
    OpenAI-compatible endpoint). The API key is encrypted at rest and never leaves the server."""

    __tablename__ = "tenant_providers"
    __table_args__ = (UniqueConstraint("tenant_id", "provider_id", name="uq_tenant_provider"),)

    id: uuid.UUID = id_field()
    tenant_id: uuid.UUID = tenant_fk()
    provider_id: str = Field(max_length=64)
    kind: str = Field(max_length=20)
    label: str = Field(max_length=100)
    base_url: str | None = Field(default=None, max_length=2000)
    api_key_encrypted: str | None = Field(default=None, max_length=4000)
    key_hint: str = Field(default="", max_length=12)
    models: list[str] = Field(
        default_factory=list, sa_column=Column(JSONB, nullable=False, server_default="[]")
    )
    created_at: datetime = ts()
    updated_at: datetime = ts()
