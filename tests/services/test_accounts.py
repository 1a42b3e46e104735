"""Accounts: sign-up, login, lockout, sessions, suspension, roles, audit, login tickets, password change."""

from __future__ import annotations

import statistics
import time
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import text

from models.base import utcnow
from services.auth.accounts import (
    authenticate,
    change_password,
    issue_login_ticket,
    issue_token,
    list_sessions,
    log_in,
    log_out,
    log_out_everywhere,
    redeem_login_ticket,
    revoke_session,
    sign_up,
    start_session,
    update_profile,
)
from services.auth.members import list_members, set_role, set_status
from services.auth.reset import reset_password
from services.config import get_settings
from services.context import Ctx, TenantCtx
from services.db import tenant_session
from services.email import drain
from services.errors import AuthError, NotFound, PermissionDenied, RateLimited, ValidationError
from tests.conftest import first_owner, join, make_user

PASSWORD = "correct horse battery"


def setenv(monkeypatch: pytest.MonkeyPatch, name: str, value: str) -> None:
    """Set a variable and drop cached settings (fixtures may have read them already in this test)."""
    monkeypatch.setenv(name, value)
    get_settings.cache_clear()


async def new_session(tctx: TenantCtx, user_id: uuid.UUID) -> tuple[str, Ctx]:
    """A signed-in session for a user (without paying for another password check)."""
    async with tenant_session(tctx.tenant_id) as session:
        token, _ = await start_session(session, tctx, user_id)
    ctx = await authenticate(tctx.tenant_id, token)
    assert ctx is not None
    return token, ctx


async def member(
    tctx: TenantCtx, email: str, role: str | None = None, owner: Ctx | None = None
) -> tuple[str, Ctx]:
    user = await join(tctx, email=email, password=PASSWORD)
    if role is not None and role != user.role:
        assert owner is not None
        await set_role(owner, user.id, role)
    return await new_session(tctx, user.id)


async def sql(tenant_id: uuid.UUID, statement: str, **params: object) -> list[tuple]:
    """Raw SQL as the app role inside a tenant (RLS applies)."""
    async with tenant_session(tenant_id) as session:
        result = await session.execute(text(statement), params)
        return [tuple(r) for r in result.all()] if statement.lstrip().upper().startswith("SELECT") else []


async def audit_actions(tenant_id: uuid.UUID) -> list[tuple]:
    return await sql(
        tenant_id, "SELECT action, actor_user_id, target_user_id, detail FROM audit_log ORDER BY created_at"
    )


# Sign-up ---------------------------------------------------------------------------------------------------


async def test_owner_from_the_operator_then_members(tctx) -> None:
    first = await first_owner(tctx, email="  Ann@Example.COM ", password=PASSWORD, name=" Ann ")
    second = await join(tctx, email="bob@example.com", password=PASSWORD)
    assert (first.role, first.email, first.name) == ("owner", "ann@example.com", "Ann")
    assert (second.role, second.name, second.email_verified) == ("member", "bob", False)
    assert second.password_hash and PASSWORD not in second.password_hash
    assert second.password_hash.startswith("$argon2id$")


async def test_signup_validation_messages(tctx) -> None:
    await first_owner(tctx, email="ann@example.com", password=PASSWORD)
    with pytest.raises(ValidationError, match="at least 10 characters"):
        await sign_up(tctx, email="c@example.com", password="short")
    with pytest.raises(ValidationError, match="too simple"):
        await sign_up(tctx, email="c@example.com", password="abababababab")
    for bad in ("not-an-email", "a@b", "two@@example.com", "sp ace@example.com"):
        with pytest.raises(ValidationError, match="not a valid email address"):
            await sign_up(tctx, email=bad, password=PASSWORD)
    with pytest.raises(ValidationError, match="Enter your email"):
        await sign_up(tctx, email="   ", password=PASSWORD)


async def test_same_email_in_two_tenants_is_two_accounts(tctx, other_tenant) -> None:
    await first_owner(tctx, email="boss@example.com")
    await first_owner(TenantCtx(tenant_id=other_tenant.id), email="boss@example.com")
    a = await join(tctx, email="same@example.com", password=PASSWORD)
    b = await join(TenantCtx(tenant_id=other_tenant.id), email="same@example.com", password=PASSWORD + "!")
    assert a.id != b.id and a.role == b.role == "member"
    with pytest.raises(AuthError):
        await log_in(tctx, email="same@example.com", password=PASSWORD + "!")


# Login -----------------------------------------------------------------------------------------------------


async def test_login_right_and_wrong(tctx) -> None:
    user = await first_owner(tctx, email="ann@example.com", password=PASSWORD)
    assert (await log_in(tctx, email="ANN@example.com ", password=PASSWORD)).id == user.id
    with pytest.raises(AuthError, match=r"^Wrong email or password\.$"):
        await log_in(tctx, email="ann@example.com", password=PASSWORD + "x")
    with pytest.raises(AuthError, match=r"^Wrong email or password\.$"):
        await log_in(tctx, email="nobody@example.com", password=PASSWORD)
    with pytest.raises(ValidationError):
        await log_in(tctx, email="ann@example.com", password="")
    actions = [a for a, *_ in await audit_actions(tctx.tenant_id)]
    assert actions.count("user.login") == 1 and actions.count("user.login_failed") == 2


async def test_unknown_email_costs_as_much_as_a_known_one(tctx, monkeypatch) -> None:
    setenv(monkeypatch, "LOGIN_MAX_FAILURES", "1000")
    await first_owner(tctx, email="ann@example.com", password=PASSWORD)

    async def timed(email: str) -> float:
        start = time.perf_counter()
        with pytest.raises(AuthError, match="Wrong email or password"):
            await log_in(tctx, email=email, password="wrong password 123")
        return time.perf_counter() - start

    await timed("ann@example.com")  # warm up connections and caches
    known: list[float] = []
    unknown: list[float] = []
    for i in range(5):
        known.append(await timed("ann@example.com"))
        unknown.append(await timed(f"ghost{i}@example.com"))
    ratio = statistics.median(unknown) / statistics.median(known)
    assert 0.5 < ratio < 2.0, (known, unknown)
    # And both really paid for an argon2 verification (milliseconds, not microseconds).
    assert statistics.median(unknown) > 0.005


async def test_lockout_per_account_and_ip(tctx, monkeypatch) -> None:
    setenv(monkeypatch, "LOGIN_MAX_FAILURES", "3")
    user = await first_owner(tctx, email="ann@example.com", password=PASSWORD)
    attacker = TenantCtx(tctx.tenant_id, ip="198.51.100.7")
    for _ in range(3):
        with pytest.raises(AuthError):
            await log_in(attacker, email="ann@example.com", password="nope nope nope")
    with pytest.raises(RateLimited, match=r"Too many sign-in attempts\. Try again in 15 minutes\.") as err:
        await log_in(attacker, email="ann@example.com", password=PASSWORD)
    assert 14 * 60 < err.value.retry_after_seconds <= 15 * 60
    # The owner, at their own address, is not locked out by guesses from another.
    assert (await log_in(tctx, email="ann@example.com", password=PASSWORD)).id == user.id

    # When the oldest failure leaves the window, the attacker's address may try again.
    await sql(tctx.tenant_id, "UPDATE auth_failures SET created_at = created_at - interval '16 minutes'")
    assert (await log_in(attacker, email="ann@example.com", password=PASSWORD)).id == user.id


async def test_guesses_from_many_ips_do_not_lock_the_owner_out(tctx, monkeypatch) -> None:
    """The per-account limit over every IP is much looser than the one per account and IP."""
    setenv(monkeypatch, "LOGIN_MAX_FAILURES", "2")
    setenv(monkeypatch, "LOGIN_ACCOUNT_MAX_FAILURES", "6")
    user = await first_owner(tctx, email="ann@example.com", password=PASSWORD)
    for i in range(3):  # three attacker addresses, each within its own limit: 6 failures on the account
        for _ in range(2):
            with pytest.raises(AuthError):
                await log_in(
                    TenantCtx(tctx.tenant_id, ip=f"198.51.100.{i}"), email="ann@example.com", password="nope!"
                )
    # Every further guess is refused before any password check, from any address ...
    with pytest.raises(RateLimited, match="Too many sign-in attempts"):
        await log_in(TenantCtx(tctx.tenant_id, ip="198.51.100.99"), email="ann@example.com", password="nope!")
    # ... and a password reset (the owner's way back) clears the account's failures.
    token = await issue_token(tctx, user.id, "reset", timedelta(minutes=5))
    await reset_password(tctx, token, "a brand new secret")
    assert await sql(tctx.tenant_id, "SELECT 1 FROM auth_failures WHERE scope IN ('email', 'acct_ip')") == []
    assert (await log_in(tctx, email="ann@example.com", password="a brand new secret")).id == user.id


async def test_successful_login_resets_the_account_counter(tctx, monkeypatch) -> None:
    setenv(monkeypatch, "LOGIN_ACCOUNT_MAX_FAILURES", "3")
    await first_owner(tctx, email="ann@example.com", password=PASSWORD)
    for round_ in range(2):
        for i in range(2):
            with pytest.raises(AuthError):
                await log_in(
                    TenantCtx(tctx.tenant_id, ip=f"198.51.{round_}.{i}"),
                    email="ann@example.com",
                    password="nope nope nope",
                )
        await log_in(
            TenantCtx(tctx.tenant_id, ip=f"192.0.2.{round_}"), email="ann@example.com", password=PASSWORD
        )


# Sessions --------------------------------------------------------------------------------------------------


async def test_authenticate_and_log_out(tctx) -> None:
    user = await first_owner(tctx, email="ann@example.com", password=PASSWORD)
    token, ctx = await new_session(tctx, user.id)
    assert (ctx.tenant_id, ctx.user_id, ctx.role, ctx.is_platform_admin) == (
        tctx.tenant_id,
        user.id,
        "owner",
        False,
    )
    assert await authenticate(tctx.tenant_id, "") is None
    assert await authenticate(tctx.tenant_id, token + "x") is None
    # The raw token is not stored.
    assert await sql(tctx.tenant_id, "SELECT 1 FROM sessions WHERE token_hash = :t", t=token) == []

    other_token, _ = await new_session(tctx, user.id)
    await log_out(ctx)
    assert await authenticate(tctx.tenant_id, token) is None
    assert await authenticate(tctx.tenant_id, other_token) is not None


async def test_expired_session_is_refused(tctx) -> None:
    user = await first_owner(tctx, email="ann@example.com", password=PASSWORD)
    token, ctx = await new_session(tctx, user.id)
    await sql(
        tctx.tenant_id,
        "UPDATE sessions SET expires_at = now() - interval '1 second' WHERE id = :i",
        i=ctx.session_id,
    )
    assert await authenticate(tctx.tenant_id, token) is None
    assert await list_sessions(ctx) == []


async def test_absolute_session_lifetime(tctx, monkeypatch) -> None:
    setenv(monkeypatch, "SESSION_DAYS", "7")
    setenv(monkeypatch, "SESSION_MAX_DAYS", "30")
    user = await first_owner(tctx, email="ann@example.com", password=PASSWORD)
    token, ctx = await new_session(tctx, user.id)
    # Signed in 29 days ago and used every day: the slide stops at 30 days from sign-in.
    await sql(
        tctx.tenant_id,
        "UPDATE sessions SET created_at = now() - interval '29 days', last_seen_at = now() - interval '1 hour',"
        " expires_at = now() + interval '1 day' WHERE id = :i",
        i=ctx.session_id,
    )
    assert await authenticate(tctx.tenant_id, token) is not None
    [(created, expires)] = await sql(
        tctx.tenant_id, "SELECT created_at, expires_at FROM sessions WHERE id = :i", i=ctx.session_id
    )
    assert expires <= created + timedelta(days=30)
    assert expires < utcnow() + timedelta(days=1, minutes=1)  # not 7 days from now
    # Older than the absolute lifetime: refused even though its sliding expiry lies ahead.
    await sql(
        tctx.tenant_id,
        "UPDATE sessions SET created_at = now() - interval '30 days 1 minute',"
        " expires_at = now() + interval '6 days' WHERE id = :i",
        i=ctx.session_id,
    )
    assert await authenticate(tctx.tenant_id, token) is None


async def test_log_out_everywhere(tctx) -> None:
    user = await first_owner(tctx, email="ann@example.com", password=PASSWORD)
    bob = await join(tctx, email="bob@example.com", password=PASSWORD)
    tokens = [(await new_session(tctx, user.id))[0] for _ in range(3)]
    bob_token, _ = await new_session(tctx, bob.id)
    ctx = await authenticate(tctx.tenant_id, tokens[0])
    assert ctx is not None
    assert len(await list_sessions(ctx)) == 3
    assert await log_out_everywhere(ctx) == 3
    for token in tokens:
        assert await authenticate(tctx.tenant_id, token) is None
    assert await authenticate(tctx.tenant_id, bob_token) is not None  # other users keep theirs
    assert "user.logout_all" in [a for a, *_ in await audit_actions(tctx.tenant_id)]


async def test_sliding_expiry(tctx) -> None:
    user = await first_owner(tctx, email="ann@example.com", password=PASSWORD)
    token, ctx = await new_session(tctx, user.id)
    # Fresh session: a second request right away does not write.
    await sql(
        tctx.tenant_id,
        "UPDATE sessions SET expires_at = now() + interval '1 day' WHERE id = :i",
        i=ctx.session_id,
    )
    assert await authenticate(tctx.tenant_id, token) is not None
    [(expires,)] = await sql(
        tctx.tenant_id, "SELECT expires_at FROM sessions WHERE id = :i", i=ctx.session_id
    )
    assert expires < utcnow() + timedelta(days=1, minutes=1)

    # Last seen a while ago: the expiry moves to a full session length from now.
    await sql(
        tctx.tenant_id,
        "UPDATE sessions SET last_seen_at = now() - interval '1 hour' WHERE id = :i",
        i=ctx.session_id,
    )
    before = utcnow()
    assert await authenticate(tctx.tenant_id, token) is not None
    [(expires, last_seen)] = await sql(
        tctx.tenant_id, "SELECT expires_at, last_seen_at FROM sessions WHERE id = :i", i=ctx.session_id
    )
    days = get_settings().session_days
    assert before + timedelta(days=days) - timedelta(seconds=5) <= expires <= utcnow() + timedelta(days=days)
    assert last_seen >= before - timedelta(seconds=5)


# Suspension ------------------------------------------------------------------------------------------------


async def test_suspend_ends_sessions_and_refuses_login_restore_works(tctx) -> None:
    owner = await first_owner(tctx, email="boss@example.com", password=PASSWORD)
    _, owner_ctx = await new_session(tctx, owner.id)
    bob = await join(tctx, email="bob@example.com", password=PASSWORD)
    bob_token, _ = await new_session(tctx, bob.id)
    ticket = await issue_login_ticket(tctx, bob.id)

    info = await set_status(owner_ctx, bob.id, "suspended")
    assert info.status == "suspended"
    assert await authenticate(tctx.tenant_id, bob_token) is None
    [(revoked,)] = await sql(
        tctx.tenant_id,
        "SELECT count(*) FROM sessions WHERE user_id = :u AND revoked_at IS NOT NULL",
        u=bob.id,
    )
    assert revoked == 1
    with pytest.raises(AuthError, match="suspended"):
        await log_in(tctx, email="bob@example.com", password=PASSWORD)
    with pytest.raises(AuthError, match="suspended"):
        await redeem_login_ticket(tctx, ticket)
    with pytest.raises(AuthError, match="Wrong email or password"):  # a wrong password says nothing more
        await log_in(tctx, email="bob@example.com", password="wrong password")

    assert (await set_status(owner_ctx, bob.id, "active")).status == "active"
    assert (await log_in(tctx, email="bob@example.com", password=PASSWORD)).id == bob.id
    assert await authenticate(tctx.tenant_id, bob_token) is None  # ended sessions stay ended

    with pytest.raises(ValidationError, match="yourself"):
        await set_status(owner_ctx, owner.id, "suspended")
    with pytest.raises(ValidationError):
        await set_status(owner_ctx, bob.id, "banned")

    actions = [(a, actor, target) for a, actor, target, _ in await audit_actions(tctx.tenant_id)]
    assert ("user.suspended", owner.id, bob.id) in actions
    assert ("user.restored", owner.id, bob.id) in actions
    assert ("user.login_refused", None, bob.id) in actions


# Roles -----------------------------------------------------------------------------------------------------


async def test_member_cannot_manage_members(tctx) -> None:
    owner = await first_owner(tctx, email="boss@example.com", password=PASSWORD)
    _, member_ctx = await member(tctx, "bob@example.com")
    assert member_ctx.role == "member"
    with pytest.raises(PermissionDenied):
        await list_members(member_ctx)
    with pytest.raises(PermissionDenied):
        await set_role(member_ctx, member_ctx.user_id, "admin")
    with pytest.raises(PermissionDenied):
        await set_status(member_ctx, owner.id, "suspended")
    [(role,)] = await sql(tctx.tenant_id, "SELECT role FROM users WHERE id = :u", u=member_ctx.user_id)
    assert role == "member"


async def test_admin_manages_members_but_not_owners(tctx) -> None:
    owner = await first_owner(tctx, email="boss@example.com", password=PASSWORD)
    _, owner_ctx = await new_session(tctx, owner.id)
    _, admin_ctx = await member(tctx, "admin@example.com", "admin", owner_ctx)
    _, bob_ctx = await member(tctx, "bob@example.com")
    assert admin_ctx.role == "admin"

    emails = [m.email for m in await list_members(admin_ctx)]
    assert emails == ["boss@example.com", "admin@example.com", "bob@example.com"]

    assert (await set_role(admin_ctx, bob_ctx.user_id, "instructor")).role == "instructor"
    assert (await set_role(admin_ctx, bob_ctx.user_id, "admin")).role == "admin"
    with pytest.raises(PermissionDenied, match="owner"):
        await set_role(admin_ctx, bob_ctx.user_id, "owner")
    with pytest.raises(PermissionDenied, match="owner"):
        await set_role(admin_ctx, owner.id, "member")
    with pytest.raises(PermissionDenied, match="owner"):
        await set_status(admin_ctx, owner.id, "suspended")
    with pytest.raises(ValidationError, match="Role must be one of"):
        await set_role(admin_ctx, bob_ctx.user_id, "superuser")
    [(role, status)] = await sql(tctx.tenant_id, "SELECT role, status FROM users WHERE id = :u", u=owner.id)
    assert (role, status) == ("owner", "active")

    # The role lives in the database: a session picks up the change on its next request.
    bob_token, _ = await new_session(tctx, bob_ctx.user_id)
    again = await authenticate(tctx.tenant_id, bob_token)
    assert again is not None and again.role == "admin"


async def test_last_owner_cannot_be_demoted_or_suspended(tctx) -> None:
    owner = await first_owner(tctx, email="boss@example.com", password=PASSWORD)
    _, owner_ctx = await new_session(tctx, owner.id)
    bob = await join(tctx, email="bob@example.com", password=PASSWORD)
    with pytest.raises(ValidationError, match="at least one owner"):
        await set_role(owner_ctx, owner.id, "admin")

    # An operator (platform admin) may suspend owners, but not the last one.
    await sql(tctx.tenant_id, "UPDATE users SET is_platform_admin = true WHERE id = :u", u=bob.id)
    _, operator = await new_session(tctx, bob.id)
    assert operator.is_platform_admin and operator.role == "member"
    with pytest.raises(ValidationError, match="last owner"):
        await set_status(operator, owner.id, "suspended")

    # With a second owner, the first may step down.
    await set_role(owner_ctx, bob.id, "owner")
    assert (await set_role(owner_ctx, owner.id, "admin")).role == "admin"
    [(owners,)] = await sql(tctx.tenant_id, "SELECT count(*) FROM users WHERE role = 'owner'")
    assert owners == 1


async def test_audit_log_for_sign_in_role_change_and_suspension(tctx) -> None:
    owner = await first_owner(tctx, email="boss@example.com", password=PASSWORD)
    await log_in(TenantCtx(tctx.tenant_id, ip="192.0.2.44"), email="boss@example.com", password=PASSWORD)
    _, owner_ctx = await new_session(tctx, owner.id)
    bob = await join(tctx, email="bob@example.com", password=PASSWORD)
    await set_role(owner_ctx, bob.id, "instructor")
    await set_status(owner_ctx, bob.id, "suspended")

    rows = await audit_actions(tctx.tenant_id)
    by_action = {a: (actor, target, detail) for a, actor, target, detail in rows}
    assert by_action["user.signup"][1] == bob.id
    assert by_action["user.login"][:2] == (owner.id, owner.id)
    assert by_action["user.role_changed"] == (owner.id, bob.id, {"old": "member", "new": "instructor"})
    assert by_action["user.suspended"][:2] == (owner.id, bob.id)
    [(ip,)] = await sql(tctx.tenant_id, "SELECT ip FROM audit_log WHERE action = 'user.login'")
    assert ip == "192.0.2.44"


# Login tickets and password change ---------------------------------------------------------------------------


async def test_login_ticket_is_single_use(tctx) -> None:
    user = await first_owner(tctx, email="ann@example.com", password=PASSWORD)
    ticket = await issue_login_ticket(tctx, user.id)
    token, expires = await redeem_login_ticket(tctx, ticket)
    ctx = await authenticate(tctx.tenant_id, token)
    assert ctx is not None and ctx.user_id == user.id
    assert expires > utcnow() + timedelta(days=get_settings().session_days - 1)
    with pytest.raises(AuthError, match="expired"):
        await redeem_login_ticket(tctx, ticket)
    with pytest.raises(AuthError):
        await redeem_login_ticket(tctx, "made-up-ticket")


async def test_login_ticket_expires_and_stays_in_its_tenant(tctx, other_tenant) -> None:
    user = await first_owner(tctx, email="ann@example.com", password=PASSWORD)
    ticket = await issue_login_ticket(tctx, user.id)
    with pytest.raises(AuthError):
        await redeem_login_ticket(TenantCtx(tenant_id=other_tenant.id), ticket)
    await sql(tctx.tenant_id, "UPDATE one_time_tokens SET expires_at = now() - interval '1 second'")
    with pytest.raises(AuthError):
        await redeem_login_ticket(tctx, ticket)


async def test_change_password(tctx) -> None:
    user = await first_owner(tctx, email="ann@example.com", password=PASSWORD)
    current_token, ctx = await new_session(tctx, user.id)
    other_token, _ = await new_session(tctx, user.id)

    with pytest.raises(AuthError, match="current password"):
        await change_password(ctx, current="not my password", new="a brand new secret")
    assert await authenticate(tctx.tenant_id, other_token) is not None  # a failed attempt changes nothing
    with pytest.raises(ValidationError, match="at least"):
        await change_password(ctx, current=PASSWORD, new="short")

    reset_link = await issue_token(tctx, user.id, "reset", timedelta(minutes=30))
    await change_password(ctx, current=PASSWORD, new="a brand new secret")
    assert await authenticate(tctx.tenant_id, current_token) is not None
    with pytest.raises(AuthError, match="invalid or has expired"):  # outstanding reset links are revoked
        await reset_password(tctx, reset_link, "the attackers password")
    assert await authenticate(tctx.tenant_id, other_token) is None
    with pytest.raises(AuthError):
        await log_in(tctx, email="ann@example.com", password=PASSWORD)
    assert (await log_in(tctx, email="ann@example.com", password="a brand new secret")).id == user.id


async def test_update_profile(tctx) -> None:
    user = await first_owner(tctx, email="ann@example.com", password=PASSWORD)
    _, ctx = await new_session(tctx, user.id)
    assert (await update_profile(ctx, name="  Ann Smith ")).name == "Ann Smith"
    with pytest.raises(ValidationError):
        await update_profile(ctx, name="   ")


async def test_failed_sign_ups_are_rate_limited_per_ip_but_successes_are_not(tctx, monkeypatch) -> None:
    setenv(monkeypatch, "LOGIN_MAX_FAILURES", "3")
    await first_owner(tctx, email="boss@example.com")
    for i in range(4):  # successful sign-ups from one address do not count
        await join(tctx, email=f"office{i}@example.com", password="a good long password")
    for _ in range(3):  # an email that has an account counts (it sends that address an email)
        assert await sign_up(tctx, email="office0@example.com", password="a good long password") is None
    with pytest.raises(RateLimited, match=r"Too many sign-up attempts\. Try again in \d+ minutes?\."):
        await sign_up(tctx, email="new-person@example.com", password="a good long password")
    other_ip = type(tctx)(tenant_id=tctx.tenant_id, ip="198.51.100.99")
    assert (
        await join(other_ip, email="new-person@example.com", password="a good long password")
    ).role == "member"
    await drain()


async def test_revoke_session_ends_only_the_callers_own_session(tctx) -> None:
    ann = await first_owner(tctx, email="ann@example.com", password=PASSWORD)
    bob = await make_user(tctx.tenant_id, "bob@example.com", role="member")
    here, ann_ctx = await new_session(tctx, ann.id)
    laptop, laptop_ctx = await new_session(tctx, ann.id)
    bob_token, bob_ctx = await new_session(tctx, bob.id)
    assert laptop_ctx.session_id is not None and bob_ctx.session_id is not None

    # Bob cannot end Ann's session, even knowing its id; nothing changes.
    with pytest.raises(NotFound):
        await revoke_session(bob_ctx, laptop_ctx.session_id)
    assert await authenticate(tctx.tenant_id, laptop) is not None

    assert await revoke_session(ann_ctx, laptop_ctx.session_id) is False  # not the one asking
    assert await authenticate(tctx.tenant_id, laptop) is None  # the revoked token no longer works
    assert await authenticate(tctx.tenant_id, here) is not None
    assert await authenticate(tctx.tenant_id, bob_token) is not None
    assert [s.id for s in await list_sessions(ann_ctx)] == [ann_ctx.session_id]
    with pytest.raises(NotFound, match="already ended"):
        await revoke_session(ann_ctx, laptop_ctx.session_id)

    # Revoking the session making the request is logging out.
    assert ann_ctx.session_id is not None
    assert await revoke_session(ann_ctx, ann_ctx.session_id) is True
    assert await authenticate(tctx.tenant_id, here) is None
    assert "user.session_revoked" in [a for a, *_ in await audit_actions(tctx.tenant_id)]


async def test_member_search_matches_name_or_email_literally_and_pages(tctx, other_tenant) -> None:
    owner = await first_owner(tctx, email="boss@example.com", name="Boss")
    ctx = Ctx(tenant_id=tctx.tenant_id, user_id=owner.id, role="owner")
    for email, name in [
        ("ana@example.com", "Ana Lima"),
        ("bruno@example.com", "Bruno ANA"),
        ("carla@ana.org", "Carla"),
        ("dan@example.com", "100% Dan"),
        ("e_e@example.com", "Eve"),
    ]:
        await make_user(tctx.tenant_id, email, role="member", name=name)
    await make_user(other_tenant.id, "ana@other.com", role="owner", name="Ana Elsewhere")

    async def found(query: str, **kw: int) -> list[str]:
        return [m.email for m in await list_members(ctx, query=query, **kw)]

    assert await found("ana") == ["ana@example.com", "bruno@example.com", "carla@ana.org"]
    assert await found("  LIMA ") == ["ana@example.com"]
    assert await found("%") == ["dan@example.com"]  # the user's % is a percent sign, not a wildcard
    assert await found("_") == ["e_e@example.com"]
    assert await found("\\") == []
    assert await found("nobody") == []
    assert len(await found("")) == 6
    assert await found("ana", limit=2) == ["ana@example.com", "bruno@example.com"]
    assert await found("ana", limit=2, offset=2) == ["carla@ana.org"]
    member_ctx = Ctx(tenant_id=tctx.tenant_id, user_id=owner.id, role="member")
    with pytest.raises(PermissionDenied):
        await list_members(member_ctx, query="ana")
