"""Failure counting per IP and per account, kept in Postgres so every worker sees the same numbers."""

from __future__ import annotations

import math
import uuid
from datetime import timedelta

from sqlalchemy import delete, func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models import AuthFailure
from models.base import utcnow
from services.config import get_settings
from services.errors import RateLimited


async def check(session: AsyncSession, tenant_id: uuid.UUID, keys: list[tuple[str, str]], what: str) -> None:
    """Raise RateLimited when any (scope, key) has reached the limit inside the window."""
    settings = get_settings()
    window = timedelta(minutes=settings.login_window_minutes)
    now = utcnow()
    for scope, key in keys:
        if not key:
            continue
        row = (
            await session.exec(
                select(func.count(), func.min(AuthFailure.created_at)).where(
                    AuthFailure.tenant_id == tenant_id,
                    AuthFailure.scope == scope,
                    AuthFailure.key == key,
                    col(AuthFailure.created_at) > now - window,
                )
            )
        ).one()
        failures, oldest = row
        if failures >= settings.login_max_failures and oldest is not None:
            wait = max(1, math.ceil(((oldest + window) - now).total_seconds()))
            minutes = math.ceil(wait / 60)
            raise RateLimited(
                f"Too many {what} attempts. Try again in {minutes} minute{'s' if minutes != 1 else ''}.", wait
            )


def add(session: AsyncSession, tenant_id: uuid.UUID, keys: list[tuple[str, str]]) -> None:
    for scope, key in keys:
        if key:
            session.add(AuthFailure(tenant_id=tenant_id, scope=scope, key=key))


async def clear(session: AsyncSession, tenant_id: uuid.UUID, scope: str, key: str) -> None:
    await session.exec(
        delete(AuthFailure).where(
            col(AuthFailure.tenant_id) == tenant_id,
            col(AuthFailure.scope) == scope,
            col(AuthFailure.key) == key,
        )
    )
