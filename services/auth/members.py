"""Members of a workspace (owner/admin): listing and searching them, their roles, suspension."""

from __future__ import annotations

import uuid

from sqlalchemy import func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models import ROLES, User
from models.base import utcnow
from services.auth import audit, policy
from services.auth.accounts import UserInfo, _revoke_all, user_info
from services.auth.roles import can_assign, require
from services.context import Ctx
from services.db import tenant_session
from services.errors import NotFound, PermissionDenied, ValidationError

_lock_tenant_users = policy.lock_tenant_users


def like_pattern(text: str) -> str:
    """`%text%` for ILIKE with the user's own `%`, `_` and `\\` matched literally."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


async def list_members(ctx: Ctx, *, query: str = "", limit: int = 200, offset: int = 0) -> list[UserInfo]:
    """Members in the order they joined; with `query`, those whose name or email contains it (any case).

    No index for the search: under FORCE RLS Postgres applies the tenant policy before any predicate that
    is not leakproof (ILIKE is not), so a trigram index could not be used anyway. The tenant index narrows
    the rows to one workspace and the filter runs over those; 10,000 members take a few milliseconds."""
    require(ctx, "members.view")
    query = " ".join(query.split())[:200]
    stmt = select(User)
    if query:
        pattern = like_pattern(query)
        stmt = stmt.where(
            col(User.name).ilike(pattern, escape="\\") | col(User.email).ilike(pattern, escape="\\")
        )
    stmt = stmt.order_by(col(User.created_at), col(User.id)).offset(max(offset, 0)).limit(max(limit, 0))
    async with tenant_session(ctx.tenant_id) as session:
        rows = await session.exec(stmt)
        return [user_info(u) for u in rows.all()]


async def _target(session: AsyncSession, ctx: Ctx, user_id: uuid.UUID) -> User:
    user = await session.get(User, user_id)
    if user is None or user.tenant_id != ctx.tenant_id:
        raise NotFound("That member does not exist.")
    return user


async def _owners(session: AsyncSession) -> int:
    q = select(func.count()).select_from(User).where(User.role == "owner", User.status == "active")
    return int((await session.exec(q)).one())


async def set_role(ctx: Ctx, user_id: uuid.UUID, role: str) -> UserInfo:
    require(ctx, "members.manage")
    if role not in ROLES:
        raise ValidationError(f"Role must be one of: {', '.join(ROLES)}.")
    async with tenant_session(ctx.tenant_id) as session:
        await _lock_tenant_users(session, ctx.tenant_id)
        user = await _target(session, ctx, user_id)
        if not can_assign(ctx, user.role, role):
            raise PermissionDenied("Only an owner can make or unmake owners.")
        if user.role == "owner" and role != "owner" and await _owners(session) <= 1:
            raise ValidationError("A workspace needs at least one owner: make someone else owner first.")
        old = user.role
        user.role = role
        user.updated_at = utcnow()
        session.add(user)
        audit.record(
            session,
            ctx.tenant_id,
            "user.role_changed",
            actor=ctx.user_id,
            target=user.id,
            ip=ctx.ip,
            old=old,
            new=role,
        )
        return user_info(user)


async def set_status(ctx: Ctx, user_id: uuid.UUID, status: str) -> UserInfo:
    """Suspend (ends every session at once) or restore a member."""
    require(ctx, "members.manage")
    if status not in ("active", "suspended"):
        raise ValidationError("Status must be active or suspended.")
    if user_id == ctx.user_id:
        raise ValidationError("You cannot suspend or restore yourself.")
    async with tenant_session(ctx.tenant_id) as session:
        await _lock_tenant_users(session, ctx.tenant_id)
        user = await _target(session, ctx, user_id)
        if user.role == "owner" and not can_assign(ctx, "owner", "owner"):
            raise PermissionDenied("Only an owner can suspend or restore an owner.")
        if status == "suspended" and user.role == "owner" and await _owners(session) <= 1:
            raise ValidationError("You cannot suspend the last owner.")
        user.status = status
        user.updated_at = utcnow()
        session.add(user)
        if status == "suspended":
            await _revoke_all(session, user.id)
        action = "user.suspended" if status == "suspended" else "user.restored"
        audit.record(session, ctx.tenant_id, action, actor=ctx.user_id, target=user.id, ip=ctx.ip)
        return user_info(user)
