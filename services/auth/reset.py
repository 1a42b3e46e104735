"""Password reset by emailed one-time link."""

from __future__ import annotations

import logging
from datetime import timedelta

from sqlalchemy import update
from sqlmodel import col

from models import User
from models.base import utcnow
from services import tenants
from services.auth import audit, ratelimit
from services.auth.accounts import (
    _revoke_all,
    clear_login_failures,
    consume_token,
    find_user,
    issue_token,
    revoke_tokens,
    validate_email,
    validate_password,
)
from services.auth.secrets import hash_password
from services.config import get_settings
from services.context import TenantCtx
from services.db import tenant_session
from services.email import send_email, spawn
from services.errors import AuthError

log = logging.getLogger(__name__)


async def request_reset(tctx: TenantCtx, email: str) -> None:
    """Email a reset link when the account exists. Says nothing either way, to not reveal who has an account:
    after the rate limit, the lookup, token and email all happen off the request path, so the answer takes
    the same time whether or not the account exists.

    The link points at the tenant's own address (`tenants.public_origin`), never at anything the request
    said about itself: a foreign page that drives the form cannot make the email link to it."""
    email = validate_email(email)
    limit = get_settings().login_max_failures
    rules = [ratelimit.Rule("reset_ip", tctx.ip, limit), ratelimit.Rule("reset_email", email, limit)]
    async with tenant_session(tctx.tenant_id) as session:
        await ratelimit.hit(session, tctx.tenant_id, rules, "password reset")
    spawn(_send_reset(tctx, email), "password reset email")


async def _send_reset(tctx: TenantCtx, email: str) -> None:
    async with tenant_session(tctx.tenant_id) as session:
        user = await find_user(session, email)
    if user is None or user.status != "active":
        return
    tenant = await tenants.get_info(tctx.tenant_id)
    if tenant is None:
        return
    workspace = tenant.display_name
    minutes = get_settings().reset_token_minutes
    token = await issue_token(tctx, user.id, "reset", timedelta(minutes=minutes))
    link = f"{tenants.public_origin(tenant)}/reset/{token}"
    body = (
        f"Hello {user.name},\n\nSomebody (we hope you) asked to reset the password of your {workspace} account.\n"
        f"Open this link within {minutes} minutes to choose a new one:\n\n{link}\n\n"
        "If it was not you, ignore this email: your password stays as it is.\n"
    )
    await send_email(user.email, f"Reset your {workspace} password", body)


async def reset_password(tctx: TenantCtx, token: str, new_password: str) -> None:
    """Set a new password from a reset link. Every session of the user ends, every other reset link of the
    user stops working, and the account's failed sign-ins are forgotten (so a lock-out ends)."""
    validate_password(new_password)
    new_hash = await hash_password(new_password)
    async with tenant_session(tctx.tenant_id) as session:
        row = await consume_token(session, "reset", token)
        if row is None:
            raise AuthError("This reset link is invalid or has expired. Ask for a new one.")
        user = await session.get(User, row.user_id)
        if user is None:
            raise AuthError("This reset link is invalid or has expired. Ask for a new one.")
        await session.exec(
            update(User)
            .where(col(User.id) == row.user_id)
            .values(password_hash=new_hash, email_verified=True, updated_at=utcnow())  # the link reached it
        )
        await _revoke_all(session, row.user_id)
        await revoke_tokens(session, row.user_id, "reset")
        await clear_login_failures(session, tctx.tenant_id, user.email)
        audit.record(
            session, tctx.tenant_id, "user.password_reset", actor=row.user_id, target=row.user_id, ip=tctx.ip
        )
