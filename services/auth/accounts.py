"""Sign-up, login and sessions (members are `services.auth.members`). Every function takes the tenant (and user) context explicitly."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select as sa_select
from sqlalchemy import update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models import ROLES, AuthSession, OneTimeToken, User
from models.base import utcnow
from services.auth import audit, policy, ratelimit
from services.auth.roles import require
from services.auth.secrets import hash_password, new_token, token_hash, verify_password
from services.config import get_settings
from services.context import Ctx, TenantCtx
from services.db import tenant_session
from services.email import spawn as send_later_work
from services.errors import AuthError, NotFound, ValidationError

EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
SLIDE_AFTER = timedelta(minutes=5)  # refresh a session's expiry at most this often
TICKET_TTL = timedelta(seconds=60)


@dataclass(frozen=True, slots=True)
class UserInfo:
    id: uuid.UUID
    email: str
    name: str
    role: str
    status: str
    has_password: bool
    created_at: datetime
    email_verified: bool = False


@dataclass(frozen=True, slots=True)
class SessionInfo:
    id: uuid.UUID
    created_at: datetime
    last_seen_at: datetime
    expires_at: datetime
    user_agent: str
    ip: str


def user_info(user: User) -> UserInfo:
    return UserInfo(
        id=user.id,
        email=user.email,
        name=user.name,
        role=user.role,
        status=user.status,
        has_password=user.password_hash is not None,
        created_at=user.created_at,
        email_verified=user.email_verified,
    )


def normalise_email(email: str) -> str:
    return email.strip().lower()


def validate_email(email: str) -> str:
    email = normalise_email(email)
    if not email:
        raise ValidationError("Enter your email address.")
    if len(email) > 320 or not EMAIL_RE.match(email):
        raise ValidationError(f"'{email}' is not a valid email address.")
    return email


def validate_password(password: str) -> None:
    minimum = get_settings().password_min_length
    if len(password) < minimum:
        raise ValidationError(f"Use a password of at least {minimum} characters.")
    if len(password) > 1024:
        raise ValidationError("That password is too long (1024 characters at most).")
    if password.strip() == "" or len(set(password)) < 4:
        raise ValidationError("That password is too simple: use at least 4 different characters.")


_lock_tenant_users = policy.lock_tenant_users  # one lock for every way an account is made


async def find_user(session: AsyncSession, email: str) -> User | None:
    return (await session.exec(select(User).where(User.email == normalise_email(email)))).first()


async def sign_up(tctx: TenantCtx, *, email: str, password: str, name: str = "") -> User | None:
    """Create a password account (role from `policy.signup_role`) and email it a confirmation link.

    An email that already has an account gets, instead, an email saying so (log in or reset the password),
    and this returns None. Callers must answer both cases alike, so the form cannot tell who has an account:
    the password is hashed either way and every email leaves off the request path.

    Every attempt counts towards the per-IP limit except a sign-up that creates an account, so the form
    cannot be used to spam inboxes or probe at speed, while an office behind one address can register."""
    async with tenant_session(tctx.tenant_id) as session:
        attempt = await ratelimit.hit(
            session,
            tctx.tenant_id,
            [ratelimit.Rule("signup_ip", tctx.ip, get_settings().login_max_failures)],
            "sign-up",
        )
    user = await _create_account(tctx, email=email, password=password, name=name)
    if user is not None:
        async with tenant_session(tctx.tenant_id) as session:
            await ratelimit.forget(session, attempt)
    return user


async def _create_account(tctx: TenantCtx, *, email: str, password: str, name: str) -> User | None:
    from services.auth import verify  # verify builds on this module

    email = validate_email(email)
    validate_password(password)
    name = name.strip()[:200]
    password_hash = await hash_password(password)  # outside any transaction: argon2 takes a while
    async with tenant_session(tctx.tenant_id) as session:
        await _lock_tenant_users(session, tctx.tenant_id)
        role = await policy.signup_role(session, tctx.tenant_id, email)
        existing = await find_user(session, email)
        if existing is not None:
            audit.record(session, tctx.tenant_id, "user.signup_existing", target=existing.id, ip=tctx.ip)
            user = None
        else:
            user = User(
                tenant_id=tctx.tenant_id,
                email=email,
                name=name or email.split("@")[0],
                role=role,
                password_hash=password_hash,
            )
            session.add(user)
            await session.flush()
            audit.record(
                session,
                tctx.tenant_id,
                "user.signup",
                actor=user.id,
                target=user.id,
                ip=tctx.ip,
                role=user.role,
            )
    if existing is not None:
        send_later_work(verify.send_existing_account(tctx, existing.id), "existing-account email")
    else:
        assert user is not None
        send_later_work(verify.send_verification(tctx, user.id), "verification email")
    return user


async def create_user(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    *,
    email: str,
    name: str = "",
    role: str = "member",
    password: str | None = None,
    email_verified: bool = False,
) -> User:
    """Create a user inside an open tenant session (operator command, OAuth sign-up)."""
    email = validate_email(email)
    if role not in ROLES:
        raise ValidationError(f"Role must be one of: {', '.join(ROLES)}.")
    if password is not None:
        validate_password(password)
    await _lock_tenant_users(session, tenant_id)
    if await find_user(session, email) is not None:
        raise ValidationError(f"A user with the email {email} already exists in this tenant.")
    user = User(
        tenant_id=tenant_id,
        email=email,
        name=name.strip()[:200] or email.split("@")[0],
        role=role,
        password_hash=await hash_password(password) if password else None,
        email_verified=email_verified,
    )
    session.add(user)
    await session.flush()
    return user


def _login_rules(tctx: TenantCtx, email: str) -> list[ratelimit.Rule]:
    """A tight limit per account and IP; a loose one per account from everywhere (so guesses from other
    addresses cannot lock the owner out at their own address within normal limits); one per IP."""
    s = get_settings()
    return [
        ratelimit.Rule("acct_ip", account_ip_key(email, tctx.ip), s.login_max_failures),
        ratelimit.Rule("email", email, s.login_account_max_failures),
        ratelimit.Rule("ip", tctx.ip, s.login_ip_max_failures),
    ]


def account_ip_key(email: str, ip: str) -> str:
    return f"{token_hash(email)[:40]}|{ip}"


async def clear_login_failures(session: AsyncSession, tenant_id: uuid.UUID, email: str) -> None:
    """Forget an account's failed sign-ins (from every IP): after a password reset."""
    await ratelimit.clear(session, tenant_id, "email", email)
    await ratelimit.clear_prefix(session, tenant_id, "acct_ip", f"{token_hash(email)[:40]}|")


async def log_in(tctx: TenantCtx, *, email: str, password: str) -> User:
    """Check credentials; raises AuthError or RateLimited. Unknown emails cost as much as known ones.

    The attempt is counted (atomically, see `ratelimit.hit`) before the password is checked and taken back
    when it was right, so parallel guesses cannot slip past the limit."""
    email = normalise_email(email)
    if not email or not password:
        raise ValidationError("Enter your email and password.")
    async with tenant_session(tctx.tenant_id) as session:
        attempt = await ratelimit.hit(session, tctx.tenant_id, _login_rules(tctx, email), "sign-in")
        user = await find_user(session, email)
    ok = await verify_password(user.password_hash if user else None, password)
    async with tenant_session(tctx.tenant_id) as session:
        if not ok or user is None:
            audit.record(
                session,
                tctx.tenant_id,
                "user.login_failed",
                target=user.id if user else None,
                ip=tctx.ip,
                email=email,
            )
        else:
            await ratelimit.forget(session, attempt)
            await ratelimit.clear(session, tctx.tenant_id, "acct_ip", account_ip_key(email, tctx.ip))
            await ratelimit.clear(session, tctx.tenant_id, "email", email)
            if user.status != "active":
                audit.record(session, tctx.tenant_id, "user.login_refused", target=user.id, ip=tctx.ip)
            else:
                audit.record(session, tctx.tenant_id, "user.login", actor=user.id, target=user.id, ip=tctx.ip)
    if not ok or user is None:
        raise AuthError("Wrong email or password.")
    if user.status != "active":
        raise AuthError("This account is suspended. Contact an admin of this workspace.")
    return user


async def start_session(session: AsyncSession, tctx: TenantCtx, user_id: uuid.UUID) -> tuple[str, datetime]:
    """Create a session row in an open tenant session; returns the raw token (given to the browser once)."""
    token = new_token()
    now = utcnow()
    settings = get_settings()
    expires = now + timedelta(days=min(settings.session_days, settings.session_max_days))
    session.add(
        AuthSession(
            tenant_id=tctx.tenant_id,
            user_id=user_id,
            token_hash=token_hash(token),
            created_at=now,
            last_seen_at=now,
            expires_at=expires,
            user_agent=tctx.user_agent[:500],
            ip=tctx.ip[:64],
        )
    )
    await session.flush()
    return token, expires


async def issue_token(tctx: TenantCtx, user_id: uuid.UUID, purpose: str, ttl: timedelta) -> str:
    token = new_token()
    async with tenant_session(tctx.tenant_id) as session:
        session.add(
            OneTimeToken(
                tenant_id=tctx.tenant_id,
                user_id=user_id,
                purpose=purpose,
                token_hash=token_hash(token),
                expires_at=utcnow() + ttl,
            )
        )
    return token


async def consume_token(session: AsyncSession, purpose: str, token: str) -> OneTimeToken | None:
    """Mark a one-time token used, atomically; None when unknown, expired, used or of another purpose."""
    result = await session.exec(
        select(OneTimeToken)
        .where(
            OneTimeToken.token_hash == token_hash(token),
            OneTimeToken.purpose == purpose,
            col(OneTimeToken.used_at).is_(None),
            col(OneTimeToken.expires_at) > utcnow(),
        )
        .with_for_update()
    )
    row = result.first()
    if row is None:
        return None
    row.used_at = utcnow()
    session.add(row)
    return row


async def revoke_tokens(session: AsyncSession, user_id: uuid.UUID, purpose: str) -> int:
    """Mark every outstanding token of `purpose` of a user used (after a password change or reset)."""
    result = await session.exec(
        update(OneTimeToken)
        .where(
            col(OneTimeToken.user_id) == user_id,
            col(OneTimeToken.purpose) == purpose,
            col(OneTimeToken.used_at).is_(None),
        )
        .values(used_at=utcnow())
    )
    return int(result.rowcount or 0)


async def issue_login_ticket(tctx: TenantCtx, user_id: uuid.UUID, *, binding: str = "") -> str:
    """A 60-second single-use ticket the browser swaps for an HttpOnly session cookie.

    With `binding` (the value of the browser's login-binding cookie) the stored hash covers ticket and
    binding together, so the ticket redeems only with that same cookie: one planted in another browser fails."""
    if not binding:
        return await issue_token(tctx, user_id, "login", TICKET_TTL)
    ticket = new_token()
    async with tenant_session(tctx.tenant_id) as session:
        session.add(
            OneTimeToken(
                tenant_id=tctx.tenant_id,
                user_id=user_id,
                purpose="login",
                token_hash=token_hash(f"{ticket}.{binding}"),
                expires_at=utcnow() + TICKET_TTL,
            )
        )
    return ticket


async def redeem_login_ticket(tctx: TenantCtx, ticket: str, *, binding: str = "") -> tuple[str, datetime]:
    async with tenant_session(tctx.tenant_id) as session:
        row = await consume_token(session, "login", f"{ticket}.{binding}" if binding else ticket)
        if row is None:
            raise AuthError("This sign-in link has expired. Log in again.")
        user = await session.get(User, row.user_id)
        if user is None or user.status != "active":
            raise AuthError("This account is suspended. Contact an admin of this workspace.")
        return await start_session(session, tctx, user.id)


async def authenticate(tenant_id: uuid.UUID, token: str, *, ip: str = "") -> Ctx | None:
    """The signed-in user for a session token, or None. Slides the expiry (`SESSION_DAYS`) up to the absolute
    lifetime (`SESSION_MAX_DAYS` from sign-in); suspended users get None.

    Runs for every event a browser sends, so it reads plain columns (no ORM objects) in one query."""
    if not token:
        return None
    now = utcnow()
    settings = get_settings()
    max_age = timedelta(days=settings.session_max_days)
    async with tenant_session(tenant_id) as session:
        row = (
            await session.execute(
                sa_select(
                    col(AuthSession.id),
                    col(AuthSession.last_seen_at),
                    col(AuthSession.created_at),
                    col(User.id),
                    col(User.role),
                    col(User.status),
                    col(User.is_platform_admin),
                )
                .join(User, col(User.id) == col(AuthSession.user_id))
                .where(
                    col(AuthSession.token_hash) == token_hash(token),
                    col(AuthSession.revoked_at).is_(None),
                    col(AuthSession.expires_at) > now,
                    col(AuthSession.created_at) > now - max_age,
                )
            )
        ).first()
        if row is None:
            return None
        session_id, last_seen, created, user_id, role, status, platform_admin = row
        if status != "active":
            return None
        if now - last_seen > SLIDE_AFTER:
            # Slide, but never past the absolute lifetime counted from sign-in.
            expires = min(now + timedelta(days=settings.session_days), created + max_age)
            await session.execute(
                update(AuthSession)
                .where(col(AuthSession.id) == session_id)
                .values(last_seen_at=now, expires_at=expires)
            )
        return Ctx(
            tenant_id=tenant_id,
            user_id=user_id,
            role=role,
            is_platform_admin=platform_admin,
            session_id=session_id,
            ip=ip,
        )


async def log_out(ctx: Ctx) -> None:
    async with tenant_session(ctx.tenant_id) as session:
        await session.exec(
            update(AuthSession).where(col(AuthSession.id) == ctx.session_id).values(revoked_at=utcnow())
        )
        audit.record(session, ctx.tenant_id, "user.logout", actor=ctx.user_id, ip=ctx.ip)


async def _revoke_all(session: AsyncSession, user_id: uuid.UUID) -> int:
    result = await session.exec(
        update(AuthSession)
        .where(col(AuthSession.user_id) == user_id, col(AuthSession.revoked_at).is_(None))
        .values(revoked_at=utcnow())
    )
    return int(result.rowcount or 0)


async def log_out_everywhere(ctx: Ctx) -> int:
    async with tenant_session(ctx.tenant_id) as session:
        n = await _revoke_all(session, ctx.user_id)
        audit.record(session, ctx.tenant_id, "user.logout_all", actor=ctx.user_id, ip=ctx.ip, sessions=n)
    return n


async def get_me(ctx: Ctx) -> UserInfo:
    async with tenant_session(ctx.tenant_id) as session:
        user = await session.get(User, ctx.user_id)
        if user is None:
            raise NotFound("Your account no longer exists.")
        return user_info(user)


async def update_profile(ctx: Ctx, *, name: str) -> UserInfo:
    require(ctx, "settings.own")
    name = name.strip()
    if not name:
        raise ValidationError("Your name cannot be empty.")
    if len(name) > 200:
        raise ValidationError("That name is too long (200 characters at most).")
    async with tenant_session(ctx.tenant_id) as session:
        user = await session.get(User, ctx.user_id)
        if user is None:
            raise NotFound("Your account no longer exists.")
        user.name = name
        user.updated_at = utcnow()
        session.add(user)
        return user_info(user)


async def change_password(ctx: Ctx, *, current: str, new: str) -> None:
    """Change the password; every other session of the user ends, and every outstanding reset link."""
    require(ctx, "settings.own")
    validate_password(new)
    async with tenant_session(ctx.tenant_id) as session:
        user = await session.get(User, ctx.user_id)
        if user is None:
            raise NotFound("Your account no longer exists.")
        old_hash = user.password_hash
    if old_hash is not None and not await verify_password(old_hash, current):
        raise AuthError("Your current password is not right.")
    new_hash = await hash_password(new)
    async with tenant_session(ctx.tenant_id) as session:
        await session.exec(
            update(User)
            .where(col(User.id) == ctx.user_id)
            .values(password_hash=new_hash, updated_at=utcnow())
        )
        await session.exec(
            update(AuthSession)
            .where(
                col(AuthSession.user_id) == ctx.user_id,
                col(AuthSession.id) != ctx.session_id,
                col(AuthSession.revoked_at).is_(None),
            )
            .values(revoked_at=utcnow())
        )
        await revoke_tokens(session, ctx.user_id, "reset")
        audit.record(session, ctx.tenant_id, "user.password_changed", actor=ctx.user_id, ip=ctx.ip)


async def revoke_session(ctx: Ctx, session_id: uuid.UUID) -> bool:
    """End one of the caller's own sessions (a browser they no longer use). Returns True when it was the
    session making the request (the caller is then logged out). Another user's session is "not found"."""
    require(ctx, "settings.own")
    async with tenant_session(ctx.tenant_id) as session:
        result = await session.exec(
            update(AuthSession)
            .where(
                col(AuthSession.id) == session_id,
                col(AuthSession.user_id) == ctx.user_id,
                col(AuthSession.revoked_at).is_(None),
            )
            .values(revoked_at=utcnow())
        )
        if not result.rowcount:
            raise NotFound("That session has already ended. Reload the page to see your sessions.")
        audit.record(session, ctx.tenant_id, "user.session_revoked", actor=ctx.user_id, ip=ctx.ip)
    return session_id == ctx.session_id


async def list_sessions(ctx: Ctx) -> list[SessionInfo]:
    async with tenant_session(ctx.tenant_id) as session:
        rows = await session.exec(
            select(AuthSession)
            .where(
                AuthSession.user_id == ctx.user_id,
                col(AuthSession.revoked_at).is_(None),
                col(AuthSession.expires_at) > utcnow(),
            )
            .order_by(col(AuthSession.last_seen_at).desc())
        )
        return [
            SessionInfo(s.id, s.created_at, s.last_seen_at, s.expires_at, s.user_agent, s.ip)
            for s in rows.all()
        ]
