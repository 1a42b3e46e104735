"""Async database access for the app role.

`tenant_session(tenant_id)` is the only way services touch tenant-owned rows: it opens one transaction and sets
`app.current_tenant_id` for it with `set_config(..., true)`, so Postgres row-level security filters every
statement. `global_session()` is for the few tables that are not tenant-owned (tenants).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlmodel.ext.asyncio.session import AsyncSession

from services.config import get_settings
from services.pg import database_urls

_engines: dict[str, AsyncEngine] = {}
_SET_TENANT = text("SELECT set_config('app.current_tenant_id', :t, true)")


def app_url() -> str:
    return database_urls(get_settings())[1]


def get_engine(url: str | None = None) -> AsyncEngine:
    url = url or app_url()
    engine = _engines.get(url)
    if engine is None:
        engine = create_async_engine(url, pool_size=10, max_overflow=20, pool_pre_ping=True)
        _engines[url] = engine
    return engine


def _maker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, class_=AsyncSession, expire_on_commit=False)


@asynccontextmanager
async def tenant_session(
    tenant_id: uuid.UUID, engine: AsyncEngine | None = None
) -> AsyncIterator[AsyncSession]:
    """One transaction scoped to a tenant; commits on success, rolls back on error."""
    async with _maker(engine or get_engine())() as session, session.begin():
        await session.execute(_SET_TENANT, {"t": str(tenant_id)})
        yield session


@asynccontextmanager
async def global_session(engine: AsyncEngine | None = None) -> AsyncIterator[AsyncSession]:
    """One transaction with no tenant set: tenant-owned rows are invisible in it."""
    async with _maker(engine or get_engine())() as session, session.begin():
        yield session


async def dispose_all() -> None:
    for engine in list(_engines.values()):
        await engine.dispose()
    _engines.clear()
