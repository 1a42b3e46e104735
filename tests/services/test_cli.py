"""The `solo` command, run in-process against the test database (DATABASE_URL is the owner URL).

`main()` calls `asyncio.run`, which cannot run inside the test's event loop, so every call runs in a worker
thread; the tests themselves are async so that they can check the results through the services.
"""

from __future__ import annotations

import asyncio
import re
import uuid

import pytest
from sqlalchemy import text
from sqlmodel import select

from models import Tenant, User
from services import tenants
from services.auth import invites
from services.auth.accounts import authenticate, log_in, start_session
from services.cli import main
from services.context import TenantCtx
from services.db import global_session, tenant_session
from services.errors import AuthError
from tests.conftest import unique_slug
from tests.services.test_reset import inbox  # noqa: F401 - a fixture

PASSWORD = "correct horse battery"


async def solo(*argv: str) -> int:
    return await asyncio.to_thread(main, list(argv))


async def tenant_by_slug(slug: str) -> Tenant | None:
    async with global_session() as session:
        return await tenants.get_by_slug(session, slug)


async def test_tenant_create(capsys) -> None:
    slug = unique_slug("cli")
    code = await solo(
        "tenant",
        "create",
        "--name",
        "Coach Co",
        "--slug",
        slug,
        "--domain",
        f"{slug}.example.com",
        "--display-name",
        "Coach & Co",
        "--accent",
        "teal",
    )
    out, err = capsys.readouterr()
    assert code == 0, err
    tenant = await tenant_by_slug(slug)
    assert tenant is not None
    assert (tenant.name, tenant.display_name, tenant.accent_color) == ("Coach Co", "Coach & Co", "teal")
    assert tenant.custom_domain == f"{slug}.example.com"
    assert f"created tenant '{slug}' ({tenant.id})" in out

    async with global_session() as session:
        resolved = await tenants.resolve_host(session, f"{slug}.example.com")
    assert resolved is not None and resolved.id == tenant.id

    assert await solo("tenant", "list") == 0
    out, _ = capsys.readouterr()
    assert f"{slug}\tCoach & Co\t{slug}.example.com\t{tenant.id}" in out.splitlines()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--slug", "Not_A_Slug"], "lower-case letters"),
        (["--slug", "www"], "reserved"),
        (["--slug", "{dup}"], "already exists"),
        (["--slug", "{new}", "--accent", "chartreuse"], "Accent colour"),
        (["--slug", "{new}", "--domain", "not a domain"], "not a valid domain"),
    ],
)
async def test_tenant_create_errors(capsys, args: list[str], message: str) -> None:
    dup = unique_slug("dup")
    assert await solo("tenant", "create", "--name", "Existing", "--slug", dup) == 0
    capsys.readouterr()
    new = unique_slug("new")
    args = [a.replace("{dup}", dup).replace("{new}", new) for a in args]

    code = await solo("tenant", "create", "--name", "Another", *args)
    out, err = capsys.readouterr()
    assert code == 2
    assert err.startswith("solo: error: ") and message in err
    assert "Traceback" not in err and out == ""
    assert await tenant_by_slug(new) is None
    existing = await tenant_by_slug(dup)
    assert existing is not None and existing.name == "Existing"


async def test_user_create_with_role_and_platform_admin(capsys) -> None:
    slug = unique_slug("cli")
    assert await solo("tenant", "create", "--name", "Users Inc", "--slug", slug) == 0
    tenant = await tenant_by_slug(slug)
    assert tenant is not None
    tctx = TenantCtx(tenant_id=tenant.id, ip="192.0.2.5")
    capsys.readouterr()

    code = await solo(
        "user",
        "create",
        "--tenant",
        slug,
        "--email",
        "Admin@Example.com",
        "--role",
        "admin",
        "--name",
        "Ada",
        "--password",
        PASSWORD,
    )
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "created admin admin@example.com" in out
    user = await log_in(tctx, email="admin@example.com", password=PASSWORD)
    assert (user.role, user.name, user.is_platform_admin) == ("admin", "Ada", False)
    async with tenant_session(tenant.id) as session:
        actions = (
            (
                await session.execute(
                    text("SELECT action FROM audit_log WHERE target_user_id = :u ORDER BY created_at"),
                    {"u": user.id},
                )
            )
            .scalars()
            .all()
        )
    assert actions[0] == "user.created_by_operator"

    # Without a password: the account exists but cannot sign in with one.
    assert (
        await solo("user", "create", "--tenant", slug, "--email", "coach@example.com", "--role", "instructor")
        == 0
    )
    out, _ = capsys.readouterr()
    assert "no password set" in out
    with pytest.raises(AuthError):
        await log_in(tctx, email="coach@example.com", password=PASSWORD)

    assert await solo("user", "grant-platform-admin", "--tenant", slug, "--email", "admin@example.com") == 0
    assert "granted platform admin for admin@example.com" in capsys.readouterr().out
    async with tenant_session(tenant.id) as session:
        token, _ = await start_session(session, tctx, user.id)
    ctx = await authenticate(tenant.id, token)
    assert ctx is not None and ctx.is_platform_admin and ctx.role == "admin"

    assert (
        await solo(
            "user", "grant-platform-admin", "--tenant", slug, "--email", "admin@example.com", "--revoke"
        )
        == 0
    )
    ctx = await authenticate(tenant.id, token)
    assert ctx is not None and not ctx.is_platform_admin


async def test_user_create_errors(capsys) -> None:
    slug = unique_slug("cli")
    assert await solo("tenant", "create", "--name", "Errors Ltd", "--slug", slug) == 0
    assert await solo("user", "create", "--tenant", slug, "--email", "a@example.com", "--role", "owner") == 0
    capsys.readouterr()

    cases = [
        (
            ["user", "create", "--tenant", slug, "--email", "A@example.com", "--role", "member"],
            "already exists",
        ),
        (
            ["user", "create", "--tenant", "no-such-" + slug, "--email", "b@example.com", "--role", "member"],
            "no tenant with the slug",
        ),
        (["user", "create", "--tenant", slug, "--email", "bad", "--role", "member"], "not a valid email"),
        (
            [
                "user",
                "create",
                "--tenant",
                slug,
                "--email",
                "b@example.com",
                "--role",
                "member",
                "--password",
                "x",
            ],
            "at least",
        ),
        (["user", "grant-platform-admin", "--tenant", slug, "--email", "ghost@example.com"], "no user"),
    ]
    for argv, message in cases:
        code = await solo(*argv)
        err = capsys.readouterr().err
        assert code == 2, argv
        assert err.startswith("solo: error: ") and message in err, err

    # argparse refuses an unknown role before anything runs.
    with pytest.raises(SystemExit) as exc:
        await solo("user", "create", "--tenant", slug, "--email", "c@example.com", "--role", "emperor")
    assert exc.value.code == 2
    assert "invalid choice" in capsys.readouterr().err

    tenant = await tenant_by_slug(slug)
    assert tenant is not None
    async with tenant_session(tenant.id) as session:
        emails = sorted(u.email for u in (await session.exec(select(User))).all())
    assert emails == ["a@example.com"]


async def test_user_commands_stay_inside_their_tenant(capsys) -> None:
    """The same email in another tenant must neither block `user create` nor receive a grant meant for this one."""
    elsewhere = unique_slug("cli")
    here = unique_slug("cli")
    for slug in (elsewhere, here):
        assert await solo("tenant", "create", "--name", "Tenant", "--slug", slug) == 0
    assert (
        await solo("user", "create", "--tenant", elsewhere, "--email", "same@example.com", "--role", "member")
        == 0
    )
    capsys.readouterr()

    code = await solo("user", "create", "--tenant", here, "--email", "same@example.com", "--role", "owner")
    assert code == 0, capsys.readouterr().err
    assert await solo("user", "grant-platform-admin", "--tenant", here, "--email", "same@example.com") == 0

    flags = {}
    for slug in (elsewhere, here):
        tenant = await tenant_by_slug(slug)
        assert tenant is not None
        async with tenant_session(tenant.id) as session:
            (user,) = (await session.exec(select(User))).all()
        flags[slug] = (user.role, user.is_platform_admin)
    assert flags == {elsewhere: ("member", False), here: ("owner", True)}


# Owners by invitation ---------------------------------------------------------------------------------------


def invite_token(text_: str, origin: str) -> str:
    match = re.search(re.escape(origin) + r"/invite/([A-Za-z0-9_-]{20,})\s", text_ + "\n")
    assert match, text_
    return match.group(1)


async def test_tenant_create_with_owner_email_sends_an_invitation(capsys, inbox) -> None:  # noqa: F811
    slug = unique_slug("own")
    code = await solo(
        "tenant", "create", "--name", "Owned", "--slug", slug, "--owner-email", "Boss@Example.com"
    )
    out, err = capsys.readouterr()
    assert code == 0, err
    assert f"invited boss@example.com as owner of '{slug}'" in out
    assert "/invite/" not in out  # SMTP is set: the link went by email only
    tenant = await tenant_by_slug(slug)
    assert tenant is not None
    (_, message) = inbox.messages[-1]
    assert message["To"] == "boss@example.com"
    body = message.get_body(("plain",))
    assert body is not None
    token = invite_token(body.get_content(), tenants.public_origin(tenants.info(tenant)))

    tctx = TenantCtx(tenant_id=tenant.id, ip="192.0.2.5")
    user = await invites.accept_invitation(tctx, token, name="The Boss", password=PASSWORD)
    assert (user.role, user.email_verified, user.name) == ("owner", True, "The Boss")
    assert (await log_in(tctx, email="boss@example.com", password=PASSWORD)).id == user.id


async def test_bad_owner_email_creates_no_tenant(capsys) -> None:
    slug = unique_slug("bad")
    assert await solo("tenant", "create", "--name", "Bad", "--slug", slug, "--owner-email", "nope") == 2
    assert "'nope' is not a valid email address" in capsys.readouterr().err
    assert await tenant_by_slug(slug) is None


async def test_user_invite_without_smtp_prints_the_link(capsys) -> None:
    slug = unique_slug("inv")
    assert await solo("tenant", "create", "--name", "Invites", "--slug", slug) == 0
    code = await solo("user", "invite", "--tenant", slug, "--email", "adm@example.com", "--role", "admin")
    out, err = capsys.readouterr()
    assert code == 0, err
    tenant = await tenant_by_slug(slug)
    assert tenant is not None
    token = invite_token(out, tenants.public_origin(tenants.info(tenant)))
    user = await invites.accept_invitation(TenantCtx(tenant.id), token, name="", password=PASSWORD)
    assert (user.role, user.email_verified) == ("admin", True)

    assert await solo("user", "invite", "--tenant", "no-such-tenant", "--email", "a@example.com") == 2
    assert "no tenant with the slug" in capsys.readouterr().err
    assert await solo("user", "invite", "--tenant", slug, "--email", "not an email") == 2
    assert "not a valid email address" in capsys.readouterr().err


async def test_operator_created_users_are_verified(capsys) -> None:
    slug = unique_slug("ver")
    assert await solo("tenant", "create", "--name", "Verified", "--slug", slug) == 0
    assert await solo("user", "create", "--tenant", slug, "--email", "v@example.com", "--role", "member") == 0
    tenant = await tenant_by_slug(slug)
    assert tenant is not None
    async with tenant_session(tenant.id) as session:
        user = (await session.exec(select(User).where(User.email == "v@example.com"))).one()
    assert user.email_verified


# Identifiers and passwords in set-up SQL --------------------------------------------------------------------


async def test_setup_sql_quotes_names_and_passwords(owner_url: str) -> None:
    """A database name and an app password with quotes and dollar signs are data, not SQL."""
    import psycopg
    from psycopg import sql
    from sqlalchemy.engine import make_url

    from services.pg import app_role_sql
    from services.setup import _libpq, ensure_database

    odd = f"solo odd\"name$$'{uuid.uuid4().hex[:6]}"
    url = make_url(owner_url).set(database=odd).render_as_string(hide_password=False)
    await asyncio.to_thread(ensure_database, url)
    await asyncio.to_thread(ensure_database, url)  # idempotent
    with psycopg.connect(_libpq(owner_url, "postgres"), autocommit=True) as conn:
        assert conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (odd,)).fetchone()
        conn.execute(sql.SQL("DROP DATABASE {}").format(sql.Identifier(odd)))
        password = 'it\'s $$ a "test"; DROP ROLE app; --'
        rendered = [s.as_string(conn) for s in app_role_sql(password, exists=True)]
        create = app_role_sql(password, exists=False)[0].as_string(conn)
    assert "PASSWORD 'it''s $$ a \"test\"; DROP ROLE app; --'" in rendered[0]
    assert create.startswith('CREATE ROLE "app" LOGIN NOSUPERUSER NOBYPASSRLS') and "it''s" in create
    assert all('"app"' in s for s in rendered)
