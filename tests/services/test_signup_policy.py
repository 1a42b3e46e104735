"""Who may sign up: owners only from the operator (or a fresh default tenant), per-tenant sign-up modes for
password and OAuth sign-ups, and invitations."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import text

from services import tenants
from services.auth import invites
from services.auth.accounts import authenticate, get_me, log_in, sign_up, start_session
from services.auth.members import set_status
from services.config import get_settings
from services.context import Ctx, TenantCtx
from services.db import tenant_session
from services.email import drain
from services.errors import AuthError, PermissionDenied, ValidationError
from tests.conftest import join, make_user
from tests.fakes.oauth_provider import OidcIdentity
from tests.services.test_oauth import provider, sign_in_with  # noqa: F401 - `provider` is a fixture
from tests.services.test_reset import Inbox, inbox  # noqa: F401 - `inbox` is a fixture

PASSWORD = "correct horse battery"


async def ctx_of(tctx: TenantCtx, user_id) -> Ctx:  # type: ignore[no-untyped-def]
    async with tenant_session(tctx.tenant_id) as session:
        token, _ = await start_session(session, tctx, user_id)
    ctx = await authenticate(tctx.tenant_id, token)
    assert ctx is not None
    return ctx


def link(box: Inbox, path: str) -> tuple[str, str]:
    """(origin, token) of the last email's link to `path`."""
    body = box.messages[-1][1].get_body(("plain",))
    assert body is not None
    match = re.search(r"(https?://[^/\s]+)" + re.escape(path) + r"([A-Za-z0-9_-]{20,})\s", body.get_content())
    assert match, body.get_content()
    return match.group(1), match.group(2)


# The first visitor does not own a tenant ----------------------------------------------------------------------


async def test_sign_up_on_a_tenant_without_owner_is_refused(tctx) -> None:
    with pytest.raises(PermissionDenied, match="This workspace is not open yet"):
        await sign_up(tctx, email="first@example.com", password=PASSWORD)
    async with tenant_session(tctx.tenant_id) as session:
        assert (await session.execute(text("SELECT count(*) FROM users"))).scalar_one() == 0


async def test_first_sign_up_owns_only_a_fresh_default_tenant(tenant, tctx, monkeypatch) -> None:
    monkeypatch.setenv("SOLO_DEFAULT_TENANT", tenant.slug)  # this fresh tenant is the install's default
    get_settings.cache_clear()
    first = await join(tctx, email="first@example.com", password=PASSWORD)
    second = await join(tctx, email="second@example.com", password=PASSWORD)
    assert (first.role, second.role) == ("owner", "member")


async def test_default_tenant_with_users_but_no_owner_stays_closed(tenant, tctx, monkeypatch) -> None:
    monkeypatch.setenv("SOLO_DEFAULT_TENANT", tenant.slug)
    get_settings.cache_clear()
    await make_user(tenant.id, "member@example.com", role="member")
    with pytest.raises(PermissionDenied, match="not open yet"):
        await sign_up(tctx, email="late@example.com", password=PASSWORD)


async def test_oauth_sign_up_without_owner_is_refused(tctx, provider) -> None:  # noqa: F811
    provider.identity = OidcIdentity(sub="g-1", email="first@example.com", email_verified=True)
    with pytest.raises(PermissionDenied, match="not open yet"):
        await sign_in_with(tctx, "google")
    async with tenant_session(tctx.tenant_id) as session:
        assert (await session.execute(text("SELECT count(*) FROM users"))).scalar_one() == 0


# Sign-up modes --------------------------------------------------------------------------------------------


async def test_only_owners_and_admins_set_the_sign_up_mode(tctx, owner) -> None:
    member = await join(tctx, email="m@example.com", password=PASSWORD)
    with pytest.raises(PermissionDenied):
        await tenants.set_signup_policy(await ctx_of(tctx, member.id), "invite")
    assert (await tenants.get_signup_policy(tctx.tenant_id)).mode == "open"
    admin = await make_user(tctx.tenant_id, "admin@example.com", role="admin")
    policy = await tenants.set_signup_policy(
        await ctx_of(tctx, admin.id), "domains", ["@Example.ORG", " a.example "]
    )
    assert (policy.mode, policy.domains) == ("domains", ("example.org", "a.example"))
    assert await tenants.get_signup_policy(tctx.tenant_id) == policy
    for mode, domains, message in [
        ("closed", [], "Sign-up mode must be one of"),
        ("domains", [], "at least one email domain"),
        ("domains", ["not a domain"], "not a valid email domain"),
    ]:
        with pytest.raises(ValidationError, match=message):
            await tenants.set_signup_policy(await ctx_of(tctx, owner.id), mode, domains)
    assert await tenants.get_signup_policy(tctx.tenant_id) == policy  # bad input changed nothing


async def test_invite_only_refuses_password_and_oauth_sign_ups(tctx, owner, provider) -> None:  # noqa: F811
    await tenants.set_signup_policy(await ctx_of(tctx, owner.id), "invite")
    with pytest.raises(PermissionDenied, match=r"invite-only\. Ask one of its admins for an invitation"):
        await sign_up(tctx, email="new@example.com", password=PASSWORD)
    provider.identity = OidcIdentity(sub="g-2", email="new@example.com", email_verified=True)
    with pytest.raises(PermissionDenied, match="invite-only"):
        await sign_in_with(tctx, "google")
    # Existing accounts still sign in, with a password or an already linked provider.
    assert (await log_in(tctx, email="owner@example.com", password=PASSWORD)).id == owner.id


async def test_allowed_domains(tctx, owner, provider) -> None:  # noqa: F811
    await tenants.set_signup_policy(await ctx_of(tctx, owner.id), "domains", ["example.com", "example.net"])
    with pytest.raises(PermissionDenied, match=r"need an email address at example\.com or example\.net"):
        await sign_up(tctx, email="eve@elsewhere.org", password=PASSWORD)
    assert (await join(tctx, email="ann@Example.com", password=PASSWORD)).role == "member"
    provider.identity = OidcIdentity(sub="g-3", email="oscar@elsewhere.org", email_verified=True)
    with pytest.raises(PermissionDenied, match=r"example\.com or example\.net"):
        await sign_in_with(tctx, "google")
    provider.identity = OidcIdentity(sub="g-4", email="olga@example.net", email_verified=True)
    token, _ = await sign_in_with(tctx, "google")
    ctx = await authenticate(tctx.tenant_id, token)
    assert ctx is not None and ctx.role == "member"
    await drain()


# Invitations ----------------------------------------------------------------------------------------------


async def test_admin_invites_and_the_link_makes_a_verified_user(tenant, tctx, owner, inbox) -> None:  # noqa: F811
    await tenants.set_signup_policy(await ctx_of(tctx, owner.id), "invite")  # invitations work when closed
    admin = await make_user(tctx.tenant_id, "admin@example.com", role="admin")
    admin_ctx = await ctx_of(tctx, admin.id)
    with pytest.raises(PermissionDenied, match="Only an owner can invite owners"):
        await invites.invite_member(admin_ctx, email="boss2@example.com", role="owner")
    assert await invites.invite_member(admin_ctx, email=" Coach@Example.com ", role="instructor") == (
        "coach@example.com"
    )
    await drain()
    origin, token = link(inbox, "/invite/")
    assert origin == tenants.public_origin(tenant)
    assert inbox.messages[-1][1]["To"] == "coach@example.com"
    assert await invites.invitation_email(tctx, token) == "coach@example.com"

    with pytest.raises(ValidationError, match="at least 10"):
        await invites.accept_invitation(tctx, token, name="Coach", password="short")
    user = await invites.accept_invitation(tctx, token, name=" Coach ", password=PASSWORD)
    assert (user.role, user.name, user.email_verified, user.status) == ("instructor", "Coach", True, "active")
    assert (await log_in(tctx, email="coach@example.com", password=PASSWORD)).id == user.id
    with pytest.raises(AuthError, match="invalid, already used or expired"):
        await invites.accept_invitation(tctx, token, name="Again", password=PASSWORD)
    assert await invites.invitation_email(tctx, token) is None


async def test_invitation_expires_stays_in_its_tenant_and_reactivates(tctx, other_tenant, owner) -> None:
    _, token = await invites.create_invitation(tctx.tenant_id, email="bob@example.com", role="admin")
    with pytest.raises(AuthError):  # another tenant cannot even see it
        await invites.accept_invitation(TenantCtx(other_tenant.id), token, name="", password=PASSWORD)

    # An existing (suspended) member accepting an invitation is restored with the invited role.
    bob = await join(tctx, email="bob@example.com", password=PASSWORD)
    owner_ctx = await ctx_of(tctx, owner.id)
    await set_status(owner_ctx, bob.id, "suspended")
    user = await invites.accept_invitation(tctx, token, name="", password="another good password")
    assert (user.id, user.role, user.status, user.email_verified) == (bob.id, "admin", "active", True)
    assert (await get_me(await ctx_of(tctx, bob.id))).email_verified

    _, late = await invites.create_invitation(tctx.tenant_id, email="late@example.com", role="member")
    async with tenant_session(tctx.tenant_id) as session:
        await session.execute(text("UPDATE invitations SET expires_at = now() - interval '1 second'"))
    with pytest.raises(AuthError, match="expired"):
        await invites.accept_invitation(tctx, late, name="", password=PASSWORD)
    await drain()


async def test_a_new_invitation_replaces_the_old_one(tctx, owner) -> None:
    _, first = await invites.create_invitation(tctx.tenant_id, email="x@example.com", role="member")
    _, second = await invites.create_invitation(tctx.tenant_id, email="x@example.com", role="admin")
    with pytest.raises(AuthError):
        await invites.accept_invitation(tctx, first, name="", password=PASSWORD)
    assert (await invites.accept_invitation(tctx, second, name="", password=PASSWORD)).role == "admin"
