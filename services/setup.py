"""Bring a database to a working state: database, app role, migrations, default tenant. Idempotent."""

from __future__ import annotations

import asyncio
import logging

import psycopg
from alembic.config import Config
from psycopg import sql
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from alembic import command
from services import tenants
from services.config import PROJECT_ROOT, Settings, get_settings
from services.db import global_session
from services.pg import APP_ROLE, app_role_sql, database_urls

log = logging.getLogger(__name__)


def _libpq(url: str, dbname: str | None = None) -> str:
    """A psycopg conninfo for a SQLAlchemy URL."""
    u = make_url(url)
    parts = {
        "host": u.query.get("host") if u.query.get("host") else u.host,
        "port": u.port,
        "user": u.username,
        "password": u.password,
        "dbname": dbname or u.database,
    }
    return psycopg.conninfo.make_conninfo(**{k: str(v) for k, v in parts.items() if v})


def ensure_database(owner_url: str) -> None:
    """Create the database named in the URL when it does not exist (needs CREATEDB; skipped otherwise)."""
    name = make_url(owner_url).database or "solo"
    with psycopg.connect(_libpq(owner_url, "postgres"), autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if not exists:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
            log.info("created database %s", name)


def ensure_app_role(owner_url: str, password: str | None) -> None:
    with psycopg.connect(_libpq(owner_url), autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (APP_ROLE,)).fetchone() is not None
        for statement in app_role_sql(password, exists=exists):
            conn.execute(statement)


def alembic_config(owner_url: str) -> Config:
    cfg = Config(str(PROJECT_ROOT / "alembic.ini"))
    cfg.set_main_option("script_location", str(PROJECT_ROOT / "alembic"))
    cfg.attributes["url"] = owner_url
    return cfg


def upgrade(owner_url: str) -> None:
    command.upgrade(alembic_config(owner_url), "head")


async def seed_default_tenant(app_url: str, settings: Settings) -> None:
    engine = create_async_engine(app_url)
    try:
        async with global_session(engine) as session:
            if await tenants.get_by_slug(session, settings.solo_default_tenant) is None:
                await tenants.create_tenant(
                    session, name=settings.solo_default_tenant_name, slug=settings.solo_default_tenant
                )
                log.info("created the default tenant '%s'", settings.solo_default_tenant)
    finally:
        await engine.dispose()


def setup(settings: Settings | None = None, *, create_db: bool = True) -> tuple[str, str]:
    """Everything `make run` needs from the database. Returns (owner URL, app URL)."""
    settings = settings or get_settings()
    settings.solo_data_dir.mkdir(parents=True, exist_ok=True)
    owner_url, app_url = database_urls(settings)
    if create_db:
        ensure_database(owner_url)
    app_password = make_url(app_url).password
    if make_url(app_url).username == APP_ROLE:
        ensure_app_role(owner_url, app_password)
    upgrade(owner_url)
    if make_url(app_url).username == APP_ROLE:
        ensure_app_role(owner_url, app_password)  # grants on tables the migrations just made
    asyncio.run(seed_default_tenant(app_url, settings))
    settings.secret_key()
    return owner_url, app_url
