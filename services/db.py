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


_urls: dict[tuple[str, str, str, str], str] = {}


def app_url() -> str:
    """The app role's URL, worked out once per configuration: finding the embedded server reads its pid
    file under a file lock, far too slow for every transaction."""
    s = get_settings()
    key = (s.database_url, s.app_database_url, s.app_db_password, str(s.pg_data_dir))
    url = _urls.get(key)
    if url is None:
        url = _urls[key] = database_urls(s)[1]
    return url


def get_engine(url: str | None = None) -> AsyncEngine:
    url = url or app_url()
    engine = _engines.get(url)
    if engine is None:
        # No pre-ping (a round trip per transaction); connections are recycled instead, and a dropped
        # connection fails one transaction, which the caller reports.
        engine = create_async_engine(url, pool_size=10, max_overflow=20, pool_recycle=1800)
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


class UnsafeDatabaseRole(RuntimeError):
    """The app's database role could bypass row-level security."""


async def check_app_role(engine: AsyncEngine | None = None) -> None:
    """Refuse to serve when the app's role is a superuser or has BYPASSRLS: row-level security would not
    apply to it, and one missing tenant filter would leak every tenant's data."""
    async with (engine or get_engine()).connect() as conn:
        row = (
            await conn.execute(
                text("SELECT current_user, rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user")
            )
        ).one()
    name, superuser, bypass = row
    if superuser or bypass:
        what = "SUPERUSER" if superuser else "BYPASSRLS"
        raise UnsafeDatabaseRole(
            f"The app connects to Postgres as '{name}', which has {what}: row-level security would not "
            "protect tenants from each other. Point APP_DATABASE_URL at a role without SUPERUSER and "
            "BYPASSRLS (README: External Postgres)."
        )
