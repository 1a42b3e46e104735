"""Attempt counting per IP and per account, kept in Postgres so every worker sees the same numbers.

`hit` is atomic: it takes a transaction-scoped advisory lock on every (tenant, scope, key) it counts, then
counts and records the attempt in the same transaction. N parallel attempts against a limit of K therefore
see K, and only K, pass; the rest are refused before the caller does any expensive work (a password check).
A caller that succeeds may `forget` the rows it recorded, so only failures keep counting."""

from __future__ import annotations

import hashlib
import math
import uuid
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import delete, func, text
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models import AuthFailure
from models.base import utcnow
from services.config import get_settings
from services.errors import RateLimited


@dataclass(frozen=True, slots=True)
class Rule:
    scope: str
    key: str
    limit: int


def _lock_id(tenant_id: uuid.UUID, scope: str, key: str) -> int:
    """A signed 64-bit advisory lock id for (tenant, scope, key)."""
    digest = hashlib.sha256(f"ratelimit\0{tenant_id}\0{scope}\0{key}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


async def hit(session: AsyncSession, tenant_id: uuid.UUID, rules: list[Rule], what: str) -> list[uuid.UUID]:
    """Refuse (RateLimited) when any rule has reached its limit inside the window; otherwise record one attempt
    for every rule and return the ids of the rows recorded (for `forget`). Commit the session promptly:
    the advisory locks are held until its transaction ends."""
    settings = get_settings()
    window = timedelta(minutes=settings.login_window_minutes)
    rules = [r for r in rules if r.key]
    # One order for every caller, so two attempts that share keys cannot deadlock.
    for lock in sorted({_lock_id(tenant_id, r.scope, r.key) for r in rules}):
        await session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": lock})
    now = utcnow()
    for rule in rules:
        failures, oldest = (
            await session.exec(
                select(func.count(), func.min(AuthFailure.created_at)).where(
                    AuthFailure.tenant_id == tenant_id,
                    AuthFailure.scope == rule.scope,
                    AuthFailure.key == rule.key,
                    col(AuthFailure.created_at) > now - window,
                )
            )
        ).one()
        if failures >= rule.limit:
            wait = max(1, math.ceil(((oldest + window) - now).total_seconds())) if oldest else 60
            minutes = math.ceil(wait / 60)
            raise RateLimited(
                f"Too many {what} attempts. Try again in {minutes} minute{'s' if minutes != 1 else ''}.", wait
            )
    rows = [AuthFailure(tenant_id=tenant_id, scope=r.scope, key=r.key, created_at=now) for r in rules]
    session.add_all(rows)
    await session.flush()
    return [r.id for r in rows]


async def forget(session: AsyncSession, ids: list[uuid.UUID]) -> None:
    """Take back attempts recorded by `hit` (the attempt succeeded)."""
    if ids:
        await session.exec(delete(AuthFailure).where(col(AuthFailure.id).in_(ids)))


async def clear(session: AsyncSession, tenant_id: uuid.UUID, scope: str, key: str) -> None:
    await session.exec(
        delete(AuthFailure).where(
            col(AuthFailure.tenant_id) == tenant_id,
            col(AuthFailure.scope) == scope,
            col(AuthFailure.key) == key,
        )
    )


async def clear_prefix(session: AsyncSession, tenant_id: uuid.UUID, scope: str, prefix: str) -> None:
    """Delete every key of `scope` that starts with `prefix` (an account's per-IP counters)."""
    await session.exec(
        delete(AuthFailure).where(
            col(AuthFailure.tenant_id) == tenant_id,
            col(AuthFailure.scope) == scope,
            func.starts_with(col(AuthFailure.key), prefix),
        )
    )
