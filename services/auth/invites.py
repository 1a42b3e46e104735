"""Invitations: an emailed one-time link to `/invite/<token>` that makes (or re-activates) a user with a role.

The operator makes owners this way (`solo tenant create --owner-email`, `solo user invite`); owners and
admins may invite members. Accepting sets the name and password and marks the email verified (the link
arrived at that address)."""

from __future__ import annotations

import uuid
from datetime import timedelta

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import col, select

from models import ROLES, Invitation, User
from models.base import utcnow
from services import tenants
from services.auth import audit
from services.auth.accounts import (
    _lock_tenant_users,
    _revoke_all,
    find_user,
    revoke_tokens,
    validate_email,
    validate_password,
)
from services.auth.roles import can_assign, require
from services.auth.secrets import hash_password, new_token, token_hash
from services.config import get_settings
from services.context import Ctx, TenantCtx
from services.db import tenant_session
from services.email import send_email, spawn
from services.errors import AuthError, PermissionDenied, ValidationError

INVALID = "This invitation is invalid, already used or expired. Ask whoever invited you for a new one."


async def create_invitation(
    tenant_id: uuid.UUID,
    *,
    email: str,
    role: str,
    invited_by: uuid.UUID | None = None,
    engine: AsyncEngine | None = None,
) -> tuple[str, str]:
    """Store an invitation; returns (email, raw token). Earlier open invitations of that email end."""
    email = validate_email(email)
    if role not in ROLES:
        raise ValidationError(f"Role must be one of: {', '.join(ROLES)}.")
    token = new_token()
    async with tenant_session(tenant_id, engine) as session:
        await session.exec(
            update(Invitation)
            .where(col(Invitation.email) == email, col(Invitation.used_at).is_(None))
            .values(used_at=utcnow())
        )
        session.add(
            Invitation(
                tenant_id=tenant_id,
                email=email,
                role=role,
                token_hash=token_hash(token),
                invited_by=invited_by,
                expires_at=utcnow() + timedelta(days=get_settings().invite_token_days),
            )
        )
        audit.record(session, tenant_id, "user.invited", actor=invited_by, email=email, role=role)
    return email, token


async def send_invitation(tenant_id: uuid.UUID, email: str, role: str, token: str) -> str:
    """Email the invitation link (without SMTP the email module logs it); returns the link."""
    tenant = await tenants.get_info(tenant_id)
    if tenant is None:
        raise ValidationError("That workspace no longer exists.")
    link = f"{tenants.public_origin(tenant)}/invite/{token}"
    days = get_settings().invite_token_days
    article = "an" if role[0] in "aeiou" else "a"
    body = (
        f"Hello,\n\nYou are invited to join {tenant.display_name} as {article} {role}.\n"
        f"Open this link within {days} days to choose your name and password:\n\n{link}\n\n"
        "If you do not expect this invitation, ignore this email.\n"
    )
    await send_email(email, f"You are invited to {tenant.display_name}", body)
    return link


async def invite(
    tenant_id: uuid.UUID, *, email: str, role: str, engine: AsyncEngine | None = None
) -> tuple[str, str]:
    """The operator's invitation (CLI): store and send it, waiting for SMTP. Returns (email, link)."""
    email, token = await create_invitation(tenant_id, email=email, role=role, engine=engine)
    return email, await send_invitation(tenant_id, email, role, token)


async def invite_member(ctx: Ctx, *, email: str, role: str = "member") -> str:
    """An owner or admin invites somebody; only owners invite owners. The email leaves off the request path."""
    require(ctx, "members.manage")
    if role not in ROLES:
        raise ValidationError(f"Role must be one of: {', '.join(ROLES)}.")
    if not can_assign(ctx, "member", role):
        raise PermissionDenied("Only an owner can invite owners.")
    email, token = await create_invitation(ctx.tenant_id, email=email, role=role, invited_by=ctx.user_id)
    spawn(send_invitation(ctx.tenant_id, email, role, token), "invitation email")
    return email


async def invitation_email(tctx: TenantCtx, token: str) -> str | None:
    """The address an open invitation is for (to show on its page), or None."""
    async with tenant_session(tctx.tenant_id) as session:
        row = (
            await session.exec(
                select(Invitation).where(
                    Invitation.token_hash == token_hash(token),
                    col(Invitation.used_at).is_(None),
                    col(Invitation.expires_at) > utcnow(),
                )
            )
        ).first()
        return row.email if row is not None else None


async def accept_invitation(tctx: TenantCtx, token: str, *, name: str, password: str) -> User:
    """Use an invitation: creates the user (or activates an existing one) with the invited role, the given
    name and password, and a verified email. An existing user's other sessions and reset links end."""
    name = name.strip()
    if len(name) > 200:
        raise ValidationError("That name is too long (200 characters at most).")
    validate_password(password)
    password_hash = await hash_password(password)
    async with tenant_session(tctx.tenant_id) as session:
        row = (
            await session.exec(
                select(Invitation)
                .where(
                    Invitation.token_hash == token_hash(token),
                    col(Invitation.used_at).is_(None),
                    col(Invitation.expires_at) > utcnow(),
                )
                .with_for_update()
            )
        ).first()
        if row is None:
            raise AuthError(INVALID)
        row.used_at = utcnow()
        session.add(row)
        await _lock_tenant_users(session, tctx.tenant_id)
        user = await find_user(session, row.email)
        if user is None:
            user = User(
                tenant_id=tctx.tenant_id,
                email=row.email,
                name=name or row.email.split("@")[0],
                role=row.role,
                password_hash=password_hash,
                email_verified=True,
            )
            session.add(user)
            await session.flush()
        else:
            if user.role != "owner":  # an owner is never demoted by an invitation
                user.role = row.role
            user.name = name or user.name
            user.password_hash = password_hash
            user.status = "active"
            user.email_verified = True
            user.updated_at = utcnow()
            session.add(user)
            await _revoke_all(session, user.id)
            await revoke_tokens(session, user.id, "reset")
        audit.record(
            session,
            tctx.tenant_id,
            "user.invite_accepted",
            actor=user.id,
            target=user.id,
            ip=tctx.ip,
            role=user.role,
        )
        return user
