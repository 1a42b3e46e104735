from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlmodel import Field, SQLModel

from models.base import id_field, jsonb, ts

ACCENT_COLORS = (
    "tomato",
    "red",
    "ruby",
    "crimson",
    "pink",
    "plum",
    "purple",
    "violet",
    "iris",
    "indigo",
    "blue",
    "cyan",
    "teal",
    "jade",
    "green",
    "grass",
    "brown",
    "orange",
    "sky",
    "mint",
    "lime",
    "yellow",
    "amber",
    "gold",
    "bronze",
    "gray",
)


class Tenant(SQLModel, table=True):
    """A white-labelled workspace. Not tenant-owned itself: the app reads it to resolve hosts."""

    __tablename__ = "tenants"

    id: uuid.UUID = id_field()
    name: str = Field(max_length=200)
    slug: str = Field(max_length=63, unique=True, index=True)
    custom_domain: str | None = Field(default=None, max_length=253, unique=True, index=True)
    display_name: str = Field(max_length=200)
    logo_url: str | None = Field(default=None, max_length=2000)
    accent_color: str = Field(default="indigo", max_length=20)
    config: dict[str, Any] = jsonb()
    created_at: datetime = ts()
