"""Tenants: host resolution, validation, and proofs that row-level security isolates tenants in Postgres."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator

import psycopg
import pytest
from psycopg import errors as pg_errors
from sqlalchemy.engine import make_url

from models import GLOBAL_TABLES_WITH_TENANT_ID, TENANT_OWNED_TABLES
from services import tenants
from services.auth.accounts import authenticate, start_session
from services.auth.members import list_members, set_role, set_status
from services.config import get_settings
from services.context import TenantCtx
from services.db import global_session, tenant_session
from services.errors import NotFound, ValidationError
from tests.conftest import first_owner, join, make_user, unique_slug

PASSWORD = "correct horse battery"


def conninfo(url: str) -> str:
    """A libpq conninfo for a SQLAlchemy URL (the embedded server's socket dir is in `?host=`)."""
    u = make_url(url)
    parts = {
        "host": u.query.get("host") or u.host,
        "port": u.port,
        "user": u.username,
        "password": u.password,
        "dbname": u.database,
    }
    return psycopg.conninfo.make_conninfo(**{k: str(v) for k, v in parts.items() if v})


@pytest.fixture
async def app_conn() -> AsyncIterator[psycopg.AsyncConnection]:
    """A raw connection as the app role: no service code in between."""
    async with await psycopg.AsyncConnection.connect(conninfo(os.environ["APP_DATABASE_URL"])) as conn:
        yield conn


@pytest.fixture
async def owner_conn(owner_url: str) -> AsyncIterator[psycopg.AsyncConnection]:
    async with await psycopg.AsyncConnection.connect(conninfo(owner_url), autocommit=True) as conn:
        yield conn


async def set_tenant(conn: psycopg.AsyncConnection, tenant_id: uuid.UUID | str) -> None:
    """The same statement tenant_session uses: transaction-local."""
    await conn.execute("SELECT set_config('app.current_tenant_id', %s, true)", (str(tenant_id),))


async def populate(tenant_id: uuid.UUID, email: str) -> uuid.UUID:
    """A user with a session and audit rows, made through the services."""
    tctx = TenantCtx(tenant_id=tenant_id, ip="192.0.2.1")
    user = await make_user(tenant_id, email, password=PASSWORD)
    async with tenant_session(tenant_id) as session:
        await start_session(session, tctx, user.id)
    return user.id


# Host resolution -------------------------------------------------------------------------------------------


async def test_resolve_host(monkeypatch) -> None:
    slug = unique_slug()
    domain = f"{slug}.coach-example.com"
    async with global_session() as session:
        acme = await tenants.create_tenant(session, name="Acme", slug=slug, domain=domain.upper())
    assert acme.custom_domain == domain

    async with global_session() as session:
        default = await tenants.get_by_slug(session, get_settings().solo_default_tenant)
        assert default is not None

        async def resolve(host: str, base: str | None = None) -> uuid.UUID | None:
            found = await tenants.resolve_host(session, host, base)
            return found.id if found else None

        assert await resolve(domain) == acme.id
        assert await resolve(f"{domain.upper()}.:443") == acme.id
        assert await resolve(f"{slug}.localhost:3000") == acme.id
        assert await resolve(f"{slug.upper()}.LOCALHOST") == acme.id
        assert await resolve(f"{slug}.solo.test", base="solo.test") == acme.id
        assert await resolve("nope-" + slug + ".localhost:3000") is None
        assert await resolve(f"www.{slug}.localhost") is None  # nested subdomains are not tenants
        assert await resolve("localhost:3000") == default.id
        assert await resolve("127.0.0.1:8000") == default.id
        assert await resolve("10.1.2.3") == default.id
        assert await resolve("[::1]:3000") == default.id
        assert await resolve("solo.test", base="solo.test") == default.id
        assert await resolve("evil.example.net") is None
        assert await resolve(f"{slug}.evil.example.net") is None

    monkeypatch.setenv("SOLO_BASE_DOMAIN", "workspace.test")
    get_settings.cache_clear()
    async with global_session() as session:
        assert (await tenants.resolve_host(session, f"{slug}.workspace.test:3000")).id == acme.id  # type: ignore[union-attr]
        assert await tenants.resolve_host(session, f"{slug}.localhost") is None


async def test_create_tenant_validation() -> None:
    slug = unique_slug()
    async with global_session() as session:
        await tenants.create_tenant(session, name="First", slug=slug, domain=f"{slug}.example.com")
    cases: list[tuple[dict, str]] = [
        ({"name": "  ", "slug": unique_slug()}, "needs a name"),
        ({"name": "x" * 201, "slug": unique_slug()}, "too long"),
        ({"name": "Bad", "slug": "Bad_Slug"}, "lower-case letters"),
        ({"name": "Bad", "slug": "-edge"}, "lower-case letters"),
        ({"name": "Bad", "slug": "edge-"}, "lower-case letters"),
        ({"name": "Bad", "slug": "a" * 64}, "lower-case letters"),
        ({"name": "Bad", "slug": ""}, "lower-case letters"),
        ({"name": "Reserved", "slug": "www"}, "reserved"),
        ({"name": "Dup", "slug": slug.upper()}, "already exists"),
        ({"name": "Dom", "slug": unique_slug(), "domain": "not a domain"}, "not a valid domain"),
        ({"name": "Dom", "slug": unique_slug(), "domain": "localhost"}, "not a valid domain"),
        ({"name": "Dom", "slug": unique_slug(), "domain": f"{slug}.example.com"}, "already belongs"),
        ({"name": "Col", "slug": unique_slug(), "accent_color": "chartreuse"}, "Accent colour"),
    ]
    for kwargs, message in cases:
        with pytest.raises(ValidationError, match=message):
            async with global_session() as session:
                await tenants.create_tenant(session, **kwargs)
    async with global_session() as session:
        assert await tenants.get_by_slug(session, slug) is not None
        assert await tenants.get_by_slug(session, "www") is None


# Row-level security, proven with raw SQL as the app role ------------------------------------------------------


async def test_app_role_is_neither_superuser_nor_bypassrls(app_conn) -> None:
    row = await (
        await app_conn.execute(
            "SELECT current_user, rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user"
        )
    ).fetchone()
    assert row == ("app", False, False)
    # Nor does it own the tables (owners are subject to FORCEd RLS too, but it should not be one).
    owners = await (
        await app_conn.execute(
            "SELECT DISTINCT tableowner FROM pg_tables WHERE schemaname = 'public' AND tablename = ANY(%s)",
            (list(TENANT_OWNED_TABLES),),
        )
    ).fetchall()
    assert ("app",) not in owners


async def test_no_tenant_set_sees_nothing(tenant, app_conn, owner_conn) -> None:
    await populate(tenant.id, "ann@example.com")
    for table in ("users", "sessions", "audit_log"):
        (owner_count,) = await (
            await owner_conn.execute(f"SELECT count(*) FROM {table} WHERE tenant_id = %s", (tenant.id,))
        ).fetchone()  # type: ignore[misc]
        assert owner_count > 0, table
        (app_count,) = await (await app_conn.execute(f"SELECT count(*) FROM {table}")).fetchone()  # type: ignore[misc]
        assert app_count == 0, table
    # An empty tenant setting is the same as none.
    await set_tenant(app_conn, "")
    (n,) = await (await app_conn.execute("SELECT count(*) FROM users")).fetchone()  # type: ignore[misc]
    assert n == 0
    await app_conn.rollback()
    # The setting is transaction-local: it does not leak into the next transaction on the same connection.
    await set_tenant(app_conn, tenant.id)
    (n,) = await (await app_conn.execute("SELECT count(*) FROM users")).fetchone()  # type: ignore[misc]
    assert n == 1
    await app_conn.commit()
    (n,) = await (await app_conn.execute("SELECT count(*) FROM users")).fetchone()  # type: ignore[misc]
    assert n == 0


async def test_tenant_a_cannot_touch_tenant_b(tenant, other_tenant, app_conn, owner_conn) -> None:
    a_user = await populate(tenant.id, "ann@example.com")
    b_user = await populate(other_tenant.id, "bob@example.com")

    await set_tenant(app_conn, tenant.id)
    rows = await (await app_conn.execute("SELECT id, tenant_id FROM users")).fetchall()
    assert rows == [(a_user, tenant.id)]
    for table in ("users", "sessions", "audit_log", "auth_failures", "one_time_tokens"):
        cur = await app_conn.execute(f"SELECT count(*) FROM {table} WHERE tenant_id = %s", (other_tenant.id,))
        assert (await cur.fetchone()) == (0,), table
    assert (await (await app_conn.execute("SELECT * FROM users WHERE id = %s", (b_user,))).fetchall()) == []

    cur = await app_conn.execute("UPDATE users SET name = 'pwned', role = 'owner' WHERE id = %s", (b_user,))
    assert cur.rowcount == 0
    cur = await app_conn.execute("UPDATE sessions SET revoked_at = now() WHERE user_id = %s", (b_user,))
    assert cur.rowcount == 0
    cur = await app_conn.execute("DELETE FROM audit_log WHERE tenant_id = %s", (other_tenant.id,))
    assert cur.rowcount == 0
    cur = await app_conn.execute("DELETE FROM users WHERE id = %s", (b_user,))
    assert cur.rowcount == 0
    await app_conn.commit()

    # Inserting a row for tenant B is refused by the policy's WITH CHECK.
    await set_tenant(app_conn, tenant.id)
    with pytest.raises(pg_errors.InsufficientPrivilege, match="row-level security"):
        await app_conn.execute(
            "INSERT INTO users (id, tenant_id, email, name, role, status, email_verified, is_platform_admin,"
            " created_at, updated_at) VALUES (%s, %s, 'evil@example.com', 'Evil', 'owner', 'active', true, true,"
            " now(), now())",
            (uuid.uuid4(), other_tenant.id),
        )
    await app_conn.rollback()

    # So is moving one of A's rows into tenant B.
    await set_tenant(app_conn, tenant.id)
    with pytest.raises(pg_errors.InsufficientPrivilege, match="row-level security"):
        await app_conn.execute("UPDATE users SET tenant_id = %s WHERE id = %s", (other_tenant.id, a_user))
    await app_conn.rollback()

    # And writing with no tenant set at all.
    with pytest.raises(pg_errors.InsufficientPrivilege, match="row-level security"):
        await app_conn.execute(
            "INSERT INTO audit_log (id, tenant_id, action, detail, ip, created_at)"
            " VALUES (%s, %s, 'forged', '{}', '', now())",
            (uuid.uuid4(), tenant.id),
        )
    await app_conn.rollback()

    # Tenant B's data is untouched (checked as the owner, who bypasses RLS).
    row = await (await owner_conn.execute("SELECT name, role FROM users WHERE id = %s", (b_user,))).fetchone()
    assert row == ("bob", "owner")
    cur = await owner_conn.execute(
        "SELECT count(*) FROM sessions WHERE user_id = %s AND revoked_at IS NULL", (b_user,)
    )
    assert (await cur.fetchone()) == (1,)
    cur = await owner_conn.execute("SELECT count(*) FROM users WHERE email = 'evil@example.com'")
    assert (await cur.fetchone()) == (0,)


async def test_every_tenant_table_has_forced_rls(owner_conn) -> None:
    rows = await (
        await owner_conn.execute(
            "SELECT c.relname, c.relrowsecurity, c.relforcerowsecurity FROM pg_class c"
            " JOIN pg_namespace n ON n.oid = c.relnamespace"
            " WHERE n.nspname = 'public' AND c.relname = ANY(%s)",
            (list(TENANT_OWNED_TABLES),),
        )
    ).fetchall()
    assert {r[0] for r in rows} == set(TENANT_OWNED_TABLES)
    for name, enabled, forced in rows:
        assert enabled and forced, f"{name}: RLS enabled={enabled} forced={forced}"

    policies = await (
        await owner_conn.execute(
            "SELECT tablename, qual, with_check FROM pg_policies WHERE schemaname = 'public' AND tablename = ANY(%s)",
            (list(TENANT_OWNED_TABLES),),
        )
    ).fetchall()
    assert {p[0] for p in policies} == set(TENANT_OWNED_TABLES)
    for table, using, check in policies:
        for clause in (using, check):
            assert clause and "tenant_id" in clause and "app.current_tenant_id" in clause, (table, clause)


async def test_every_table_with_tenant_id_is_declared_tenant_owned(owner_conn) -> None:
    rows = await (
        await owner_conn.execute(
            "SELECT c.table_name FROM information_schema.columns c"
            " JOIN information_schema.tables t USING (table_schema, table_name)"
            " WHERE c.table_schema = 'public' AND c.column_name = 'tenant_id' AND t.table_type = 'BASE TABLE'"
        )
    ).fetchall()
    with_tenant_id = {r[0] for r in rows}
    assert with_tenant_id, "no table has a tenant_id column?"
    # The global ones (the job queue: one worker serves every tenant) are listed apart, on purpose, in models.
    missing = with_tenant_id - set(TENANT_OWNED_TABLES) - set(GLOBAL_TABLES_WITH_TENANT_ID)
    assert not missing, (
        f"tables with tenant_id but not in models.TENANT_OWNED_TABLES (so no RLS proof): {missing}"
    )
    # And the lists name no table that does not exist, and none twice.
    assert set(TENANT_OWNED_TABLES) <= with_tenant_id
    assert set(GLOBAL_TABLES_WITH_TENANT_ID) <= with_tenant_id
    assert not set(GLOBAL_TABLES_WITH_TENANT_ID) & set(TENANT_OWNED_TABLES)


# The same isolation, through the services --------------------------------------------------------------------


async def test_services_cannot_reach_another_tenants_user(tctx, other_tenant) -> None:
    a_owner = await first_owner(tctx, email="ann@example.com", password=PASSWORD)
    async with tenant_session(tctx.tenant_id) as session:
        a_token, _ = await start_session(session, tctx, a_owner.id)
    ctx = await signed_in_ctx(tctx.tenant_id, a_token)

    b_tctx = TenantCtx(tenant_id=other_tenant.id)
    b_owner = await first_owner(b_tctx, email="bob@example.com", password=PASSWORD)
    b_member = await join(b_tctx, email="carol@example.com", password=PASSWORD)
    async with tenant_session(other_tenant.id) as session:
        b_token, _ = await start_session(session, b_tctx, b_member.id)

    with pytest.raises(NotFound):
        await set_role(ctx, b_member.id, "admin")
    with pytest.raises(NotFound):
        await set_role(ctx, b_owner.id, "member")
    with pytest.raises(NotFound):
        await set_status(ctx, b_member.id, "suspended")
    assert [m.email for m in await list_members(ctx)] == ["ann@example.com"]

    # A session token of tenant B means nothing in tenant A (and vice versa).
    assert await authenticate(tctx.tenant_id, b_token) is None
    assert await authenticate(other_tenant.id, a_token) is None
    b_ctx = await authenticate(other_tenant.id, b_token)
    assert b_ctx is not None and b_ctx.role == "member"  # not promoted, not suspended

    # A context claiming tenant B but holding A's user id finds nothing either.
    forged = type(ctx)(tenant_id=other_tenant.id, user_id=ctx.user_id, role="owner")
    with pytest.raises(NotFound):
        await set_role(forged, ctx.user_id, "member")


async def signed_in_ctx(tenant_id: uuid.UUID, token: str):  # type: ignore[no-untyped-def]
    ctx = await authenticate(tenant_id, token)
    assert ctx is not None
    return ctx


async def test_custom_domain_cannot_take_over_a_subdomain(monkeypatch) -> None:
    """A custom domain under the base domain would shadow `<slug>.<base>` (custom domains resolve first)."""
    monkeypatch.setenv("SOLO_BASE_DOMAIN", "solo.test")
    get_settings.cache_clear()
    victim = unique_slug("v")
    async with global_session() as session:
        target = await tenants.create_tenant(session, name="Victim", slug=victim)
    for domain in (f"{victim}.solo.test", "solo.test", f"x.{victim}.solo.test"):
        with pytest.raises(ValidationError, match="base domain"):
            async with global_session() as session:
                await tenants.create_tenant(session, name="Squatter", slug=unique_slug("s"), domain=domain)
    async with global_session() as session:
        found = await tenants.resolve_host(session, f"{victim}.solo.test")
    assert found is not None and found.id == target.id
    # A look-alike that is not under the base domain is fine.
    async with global_session() as session:
        await tenants.create_tenant(session, name="Fine", slug=unique_slug("f"), domain=f"{victim}-solo.test")


async def test_the_app_refuses_a_role_that_bypasses_rls(owner_url) -> None:
    """The app's own role passes; the owner (a superuser on the embedded server) is refused at start."""
    from sqlalchemy.ext.asyncio import create_async_engine

    from services.db import UnsafeDatabaseRole, check_app_role

    await check_app_role()
    engine = create_async_engine(owner_url.replace("postgresql://", "postgresql+psycopg://", 1))
    try:
        with pytest.raises(UnsafeDatabaseRole, match="SUPERUSER"):
            await check_app_role(engine)
    finally:
        await engine.dispose()
