"""Who may create an account by themselves, and with which role (password and OAuth sign-ups alike).

Owners are made by the operator (`solo tenant create --owner-email`, `solo user invite`), not by whoever
arrives first. The one exception is a fresh install: the very first account on the default tenant becomes
its owner, so `make run` on a laptop still works without the command line."""

from __future__ import annotations

import uuid

from sqlalchemy import func, text
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from models import Tenant, User
from services import tenants
from services.config import get_settings
from services.errors import PermissionDenied

NOT_OPEN = (
    "This workspace is not open yet: its owner has not joined. "
    "Ask whoever runs it for an invitation, or try again later."
)


async def lock_tenant_users(session: AsyncSession, tenant_id: uuid.UUID) -> None:
    """Serialise account creation within a tenant (the first-owner rule, one account per email)."""
    await session.execute(text("SELECT pg_advisory_xact_lock(hashtext(:t))"), {"t": str(tenant_id)})


async def signup_role(session: AsyncSession, tenant_id: uuid.UUID, email: str) -> str:
    """The role a self-service sign-up of `email` gets, or PermissionDenied saying what to do instead.

    Call inside the tenant session that creates the user, after `lock_tenant_users`. The answer depends only
    on the workspace and the email's domain, never on whether that email already has an account."""
    owners = (await session.exec(select(func.count()).select_from(User).where(User.role == "owner"))).one()
    tenant = await session.get(Tenant, tenant_id)
    if tenant is None:
        raise PermissionDenied("There is no workspace at this address. Check the link you followed.")
    if owners == 0:
        users = (await session.exec(select(func.count()).select_from(User))).one()
        if users == 0 and tenant.slug == get_settings().solo_default_tenant:
            return "owner"
        raise PermissionDenied(NOT_OPEN)
    policy = tenants.signup_policy(tenant)
    if policy.mode == "invite":
        raise PermissionDenied(
            "This workspace is invite-only. Ask one of its admins for an invitation, then use the link in it."
        )
    if policy.mode == "domains":
        domain = email.rsplit("@", 1)[-1].lower()
        if domain not in policy.domains:
            listed = " or ".join(policy.domains)
            raise PermissionDenied(
                f"Sign-ups here need an email address at {listed}. Use one, or ask an admin for an invitation."
            )
    return "member"
