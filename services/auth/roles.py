"""Roles and the one permission check every state handler and API route goes through."""

from __future__ import annotations

from services.context import Ctx
from services.errors import PermissionDenied

RANK = {"member": 0, "instructor": 1, "admin": 2, "owner": 3}

# What each permission needs, at least.
PERMISSIONS: dict[str, str] = {
    "workspace.use": "member",
    "settings.own": "member",
    "courses.edit": "instructor",
    "members.view": "admin",
    "members.manage": "admin",
    "tenant.brand": "admin",
    "models.manage": "admin",
    "agents.manage": "admin",  # share, feature, edit shared agents; templates and tools
    "billing.manage": "admin",  # plans, prices, members' plans, Stripe keys
    "tenant.owner": "owner",
}


def has(ctx: Ctx, permission: str) -> bool:
    if ctx.is_platform_admin:
        return True
    needed = PERMISSIONS.get(permission)
    if needed is None:
        raise KeyError(f"unknown permission {permission!r}")
    return RANK.get(ctx.role, -1) >= RANK[needed]


def require(ctx: Ctx, permission: str) -> None:
    if not has(ctx, permission):
        raise PermissionDenied(
            "You do not have permission to do that. Ask an owner or admin of this workspace."
        )


def can_assign(ctx: Ctx, current_role: str, new_role: str) -> bool:
    """Admins manage members, instructors and admins; only owners create or demote owners."""
    if ctx.is_platform_admin or ctx.role == "owner":
        return True
    return "owner" not in (current_role, new_role) and RANK.get(ctx.role, -1) >= RANK["admin"]
