"""`solo`: the operator's command (set-up, migrations, tenants, users)."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import warnings
from collections.abc import Sequence

from sqlalchemy import update
from sqlalchemy.ext.asyncio import create_async_engine
from sqlmodel import col

from models import ROLES, User
from services import tenants
from services.auth import audit, invites
from services.auth.accounts import create_user, find_user, validate_email
from services.config import get_settings
from services.db import global_session, tenant_session
from services.errors import ServiceError
from services.pg import database_urls


class CliError(Exception):
    pass


def _owner_engine():  # type: ignore[no-untyped-def]
    owner_url, _ = database_urls(get_settings())
    return create_async_engine(owner_url)


def _app_engine():  # type: ignore[no-untyped-def]
    """The app role: tenant-scoped commands must go through row-level security like the app (the owner is a
    superuser in the embedded set-up and would see, and change, every tenant's users)."""
    _, app_url = database_urls(get_settings())
    return create_async_engine(app_url)


async def _tenant_id(engine, slug: str):  # type: ignore[no-untyped-def]
    async with global_session(engine) as session:
        tenant = await tenants.get_by_slug(session, slug)
    if tenant is None:
        raise CliError(f"no tenant with the slug '{slug}' (see `solo tenant list`)")
    return tenant.id


async def _tenant_create(args: argparse.Namespace) -> None:
    if args.owner_email:
        validate_email(args.owner_email)  # before anything is created
    engine = _owner_engine()
    try:
        async with global_session(engine) as session:
            tenant = await tenants.create_tenant(
                session,
                name=args.name,
                slug=args.slug,
                domain=args.domain,
                accent_color=args.accent,
                display_name=args.display_name,
                logo_url=args.logo,
            )
            print(f"created tenant '{tenant.slug}' ({tenant.id})")
        if args.owner_email:
            await _invite(tenant.id, tenant.slug, args.owner_email, "owner")
    finally:
        await engine.dispose()


async def _invite(tenant_id, slug: str, email: str, role: str) -> None:  # type: ignore[no-untyped-def]
    """Invite through the app role (row-level security holds, as for the app); wait for the email."""
    engine = _app_engine()
    try:
        email, link = await invites.invite(tenant_id, email=email, role=role, engine=engine)
    finally:
        await engine.dispose()
    print(f"invited {email} as {role} of '{slug}'")
    if not get_settings().smtp_host:
        print(f"SMTP_HOST is not set, so no email was sent: give {email} this link yourself:\n{link}")


async def _user_invite(args: argparse.Namespace) -> None:
    engine = _app_engine()
    try:
        tenant_id = await _tenant_id(engine, args.tenant)
    finally:
        await engine.dispose()
    await _invite(tenant_id, args.tenant, args.email, args.role)


async def _tenant_list(_: argparse.Namespace) -> None:
    engine = _owner_engine()
    try:
        async with global_session(engine) as session:
            for t in await tenants.list_tenants(session):
                print(f"{t.slug}\t{t.display_name}\t{t.custom_domain or '-'}\t{t.id}")
    finally:
        await engine.dispose()


async def _user_create(args: argparse.Namespace) -> None:
    engine = _app_engine()
    try:
        tenant_id = await _tenant_id(engine, args.tenant)
        async with tenant_session(tenant_id, engine) as session:
            user = await create_user(
                session,
                tenant_id,
                email=args.email,
                name=args.name or "",
                role=args.role,
                password=args.password,
                email_verified=True,  # the operator vouches for the address
            )
            audit.record(session, tenant_id, "user.created_by_operator", target=user.id, role=user.role)
            print(f"created {user.role} {user.email} in '{args.tenant}' ({user.id})")
        if not args.password:
            print("no password set: the user signs in with 'Forgot password' or an OAuth provider")
    finally:
        await engine.dispose()


async def _grant_platform_admin(args: argparse.Namespace) -> None:
    engine = _app_engine()
    try:
        tenant_id = await _tenant_id(engine, args.tenant)
        async with tenant_session(tenant_id, engine) as session:
            user = await find_user(session, args.email)
            if user is None:
                raise CliError(f"no user {args.email} in tenant '{args.tenant}'")
            await session.exec(
                update(User).where(col(User.id) == user.id).values(is_platform_admin=not args.revoke)
            )
        print(f"{'revoked' if args.revoke else 'granted'} platform admin for {args.email}")
    finally:
        await engine.dispose()


def _setup(_: argparse.Namespace) -> None:
    from services.setup import setup

    _owner_url, _app_url = setup()
    settings = get_settings()
    where = f"embedded Postgres in {settings.pg_data_dir}" if settings.embedded else "DATABASE_URL"
    print(f"database ready ({where}); migrations at head; default tenant '{settings.solo_default_tenant}'")


def _db_upgrade(_: argparse.Namespace) -> None:
    from services.setup import upgrade

    upgrade(database_urls(get_settings())[0])
    print("migrations at head")


def _db_url(args: argparse.Namespace) -> None:
    owner_url, app_url = database_urls(get_settings())
    print(app_url if args.app else owner_url)


async def _worker(args: argparse.Namespace) -> None:
    """Run a job worker until SIGINT or SIGTERM; the job it is running finishes (or goes back to the queue)."""
    import signal

    from services.db import check_app_role, dispose_all
    from services.jobs.worker import run_worker

    logging.getLogger("services.jobs").setLevel(logging.INFO)
    concurrency = args.concurrency or get_settings().worker_concurrency
    if concurrency < 1:
        raise CliError("--concurrency must be at least 1")
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await check_app_role()
        print(f"job worker running {concurrency} job(s) at a time; Ctrl+C stops it", flush=True)
        await run_worker(concurrency, stop)
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
        await dispose_all()
    print("job worker stopped", flush=True)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="solo", description="Operate a Solo OS AI deployment.")
    sub = parser.add_subparsers(dest="command", required=True)

    sub.add_parser("setup", help="database, app role, migrations, default tenant").set_defaults(func=_setup)

    db = sub.add_parser("db", help="database").add_subparsers(dest="db_command", required=True)
    db.add_parser("upgrade", help="run migrations to head").set_defaults(func=_db_upgrade)
    url = db.add_parser("url", help="print the owner URL (or the app role's with --app)")
    url.add_argument("--app", action="store_true")
    url.set_defaults(func=_db_url)

    tenant = sub.add_parser("tenant", help="tenants").add_subparsers(dest="tenant_command", required=True)
    create = tenant.add_parser("create", help="create a tenant")
    create.add_argument("--name", required=True)
    create.add_argument("--slug", required=True, help="subdomain: <slug>.<SOLO_BASE_DOMAIN>")
    create.add_argument("--domain", help="custom domain, e.g. coach.example.com")
    create.add_argument("--display-name")
    create.add_argument("--accent", default="indigo", help="Radix accent colour name")
    create.add_argument("--logo", help="logo URL")
    create.add_argument("--owner-email", help="email an owner invitation to this address")
    create.set_defaults(func=_tenant_create, run_async=True)
    tenant.add_parser("list", help="list tenants").set_defaults(func=_tenant_list, run_async=True)

    user = sub.add_parser("user", help="users").add_subparsers(dest="user_command", required=True)
    ucreate = user.add_parser("create", help="create a user in a tenant")
    ucreate.add_argument("--tenant", required=True, help="tenant slug")
    ucreate.add_argument("--email", required=True)
    ucreate.add_argument("--role", required=True, choices=ROLES)
    ucreate.add_argument("--name")
    ucreate.add_argument("--password")
    ucreate.set_defaults(func=_user_create, run_async=True)
    uinvite = user.add_parser("invite", help="email somebody an invitation to a tenant, with a role")
    uinvite.add_argument("--tenant", required=True, help="tenant slug")
    uinvite.add_argument("--email", required=True)
    uinvite.add_argument("--role", default="member", choices=ROLES)
    uinvite.set_defaults(func=_user_invite, run_async=True)
    grant = user.add_parser("grant-platform-admin", help="make a user an operator (platform admin)")
    grant.add_argument("--tenant", required=True, help="tenant slug")
    grant.add_argument("--email", required=True)
    grant.add_argument("--revoke", action="store_true")
    grant.set_defaults(func=_grant_platform_admin, run_async=True)

    worker = sub.add_parser("worker", help="run a job worker (ingestion...) until Ctrl+C or SIGTERM")
    worker.add_argument(
        "--concurrency", type=int, default=0, help="jobs at a time (default WORKER_CONCURRENCY)"
    )
    worker.set_defaults(func=_worker, run_async=True)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR")
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    args = build_parser().parse_args(argv)
    try:
        if getattr(args, "run_async", False):
            asyncio.run(args.func(args))
        else:
            args.func(args)
    except (CliError, ServiceError) as exc:
        print(f"solo: error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
