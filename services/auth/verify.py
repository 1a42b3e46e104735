"""Email verification for password sign-ups, and the note to an address that already has an account.

Links point at the tenant's own address (`tenants.public_origin`), never at anything a request said."""

from __future__ import annotations

import uuid
from datetime import timedelta

from sqlalchemy import update
from sqlmodel import col

from models import User
from models.base import utcnow
from services import tenants
from services.auth import audit, ratelimit
from services.auth.accounts import consume_token, issue_token
from services.config import get_settings
from services.context import Ctx, TenantCtx
from services.db import tenant_session
from services.email import send_email, spawn
from services.errors import AuthError, NotFound


async def _user_and_tenant(
    tenant_id: uuid.UUID, user_id: uuid.UUID
) -> tuple[User, tenants.TenantInfo] | None:
    async with tenant_session(tenant_id) as session:
        user = await session.get(User, user_id)
    tenant = await tenants.get_info(tenant_id)
    if user is None or tenant is None:
        return None
    return user, tenant


async def send_verification(tctx: TenantCtx, user_id: uuid.UUID) -> None:
    """Issue a one-time `verify` token and email its link (awaits SMTP: run it with `email.spawn`)."""
    found = await _user_and_tenant(tctx.tenant_id, user_id)
    if found is None:
        return
    user, tenant = found
    hours = get_settings().verify_token_hours
    token = await issue_token(tctx, user.id, "verify", timedelta(hours=hours))
    link = f"{tenants.public_origin(tenant)}/verify/{token}"
    body = (
        f"Hello {user.name},\n\nPlease confirm that this is your email address for {tenant.display_name}.\n"
        f"Open this link within {hours} hours:\n\n{link}\n\n"
        "If you did not sign up, ignore this email.\n"
    )
    await send_email(user.email, f"Confirm your email for {tenant.display_name}", body)


async def send_existing_account(tctx: TenantCtx, user_id: uuid.UUID) -> None:
    """Somebody signed up with an email that already has an account: tell its owner, nobody else."""
    found = await _user_and_tenant(tctx.tenant_id, user_id)
    if found is None:
        return
    user, tenant = found
    origin = tenants.public_origin(tenant)
    body = (
        f"Hello {user.name},\n\nSomebody (we hope you) tried to sign up for {tenant.display_name} with this "
        "email address, but you already have an account.\n\n"
        f"Log in: {origin}/login\n"
        f"Forgot your password? Reset it: {origin}/forgot\n\n"
        "If it was not you, ignore this email: nothing has changed.\n"
    )
    await send_email(user.email, f"You already have a {tenant.display_name} account", body)


async def confirm_email(tctx: TenantCtx, token: str) -> str:
    """Use a verification link: marks the user's email verified; returns the address."""
    async with tenant_session(tctx.tenant_id) as session:
        row = await consume_token(session, "verify", token)
        if row is None:
            raise AuthError(
                "This confirmation link is invalid, used or expired. Log in and ask for a new one."
            )
        user = await session.get(User, row.user_id)
        if user is None:
            raise AuthError(
                "This confirmation link is invalid, used or expired. Log in and ask for a new one."
            )
        await session.exec(
            update(User).where(col(User.id) == user.id).values(email_verified=True, updated_at=utcnow())
        )
        audit.record(
            session, tctx.tenant_id, "user.email_verified", actor=user.id, target=user.id, ip=tctx.ip
        )
        return user.email


async def resend_verification(ctx: Ctx) -> str:
    """Send the signed-in user a new confirmation link (rate limited); returns the address it goes to."""
    async with tenant_session(ctx.tenant_id) as session:
        user = await session.get(User, ctx.user_id)
        if user is None:
            raise NotFound("Your account no longer exists.")
        if user.email_verified:
            return user.email
        await ratelimit.hit(
            session,
            ctx.tenant_id,
            [ratelimit.Rule("verify_resend", str(user.id), get_settings().verify_resend_max)],
            "confirmation email",
        )
        email = user.email
    spawn(send_verification(TenantCtx(ctx.tenant_id, ip=ctx.ip), ctx.user_id), "verification email")
    return email
