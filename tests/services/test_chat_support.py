"""Helpers shared by the chat tests (no tests here): users without password hashing, raw SQL as the app role."""

from __future__ import annotations

import uuid
from typing import Any, cast

from sqlalchemy import CursorResult, text

from services.auth.accounts import create_user
from services.context import Ctx
from services.db import tenant_session


async def new_ctx(tenant_id: uuid.UUID, email: str, role: str = "member") -> Ctx:
    """A signed-in context for a fresh user (created without a password: fast)."""
    async with tenant_session(tenant_id) as session:
        user = await create_user(session, tenant_id, email=email, role=role)
    return Ctx(tenant_id=tenant_id, user_id=user.id, role=role)


async def sql(tenant_id: uuid.UUID, statement: str, **params: Any) -> list[tuple[Any, ...]]:
    """Raw SQL as the app role inside a tenant (row-level security applies)."""
    async with tenant_session(tenant_id) as session:
        result = cast(CursorResult[Any], await session.execute(text(statement), params))
        return [tuple(r) for r in result.all()] if result.returns_rows else []
