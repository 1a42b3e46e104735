"""A workspace's plans: what its members may use and what they pay (services/billing/).

Each plan has a `tier` (free < pro < premium): the rank that agents' and courses' `min_plan` gates compare with
(a member's `users.plan` is the tier of their plan, kept in step). `limits` says the rest, each key optional
(absent or null: no limit):
    messages_month, tokens_month   counted from usage_records in the calendar month (UTC)
    storage_mb                     the member's own files
    models                         the model keys ("<provider>/<model>") the plan may use; absent: every model
Prices are shown (cents, per month and per year) and charged by Stripe through the price ids. Every workspace has
a default plan (`is_default`), the free one unless its admins choose another; a member without `plan_id` is on
it. An archived plan is offered to nobody new; its members keep it.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import CheckConstraint, Index, UniqueConstraint, text
from sqlmodel import Field, SQLModel

from models.base import id_field, jsonb, tenant_fk, ts


class Plan(SQLModel, table=True):
    __tablename__ = "plans"
    __table_args__ = (
        UniqueConstraint("tenant_id", "key", name="uq_plans_tenant_key"),
        CheckConstraint("tier IN ('free', 'pro', 'premium')", name="ck_plans_tier"),
        Index("uq_plans_tenant_default", "tenant_id", unique=True, postgresql_where=text("is_default")),
    )

    id: uuid.UUID = id_field()
    tenant_id: uuid.UUID = tenant_fk()
    key: str = Field(max_length=40)  # a slug, stable across renames ("free", "pro", ...)
    name: str = Field(max_length=80)
    description: str = Field(default="", max_length=500)
    tier: str = Field(default="free", max_length=20)
    price_month_cents: int | None = None
    price_year_cents: int | None = None
    currency: str = Field(default="usd", max_length=3)
    stripe_price_month: str = Field(default="", max_length=100)
    stripe_price_year: str = Field(default="", max_length=100)
    limits: dict[str, Any] = jsonb()
    is_default: bool = False
    archived: bool = False
    position: int = 0
    created_at: datetime = ts()
    updated_at: datetime = ts()
