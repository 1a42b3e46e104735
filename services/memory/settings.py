"""The workspace's memory settings (Admin → Models): memory on or off for everyone, and the memory model.

Kept in `tenants.config["memory"]` as `{"enabled": bool, "model": "<provider>/<model>"}`. Off: no member's
memories are used in a reply or extracted from one, whatever their own "Use memory" says (their memories are kept:
turning it on again brings them back). The memory model answers the extraction job; empty means the
conversation's own model. Changing either is recorded in the audit log (the action and the new values only:
an admin never reads a member's memories through the app).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm.attributes import flag_modified

from models import Tenant
from services import ai_catalog
from services.auth import audit
from services.auth.roles import require
from services.context import Ctx
from services.db import global_session, tenant_session
from services.errors import NotFound

AUDIT_ACTION = "memory.settings"


@dataclass(frozen=True, slots=True)
class WorkspaceMemory:
    enabled: bool = True
    model: str = ""  # a model key; "" = the conversation's model


def from_config(config: dict[str, Any] | None) -> WorkspaceMemory:
    raw = (config or {}).get("memory")
    if not isinstance(raw, dict):
        return WorkspaceMemory()
    model = raw.get("model")
    return WorkspaceMemory(raw.get("enabled") is not False, model if isinstance(model, str) else "")


async def workspace_memory(tenant_id: uuid.UUID) -> WorkspaceMemory:
    async with global_session() as session:
        tenant = await session.get(Tenant, tenant_id)
        if tenant is None:
            raise NotFound("This workspace no longer exists.")
        return from_config(tenant.config)


async def current(ctx: Ctx) -> WorkspaceMemory:
    """What Admin → Models shows (admins and owners)."""
    require(ctx, "models.manage")
    return await workspace_memory(ctx.tenant_id)


async def set_workspace_memory(ctx: Ctx, *, enabled: bool, model: str = "") -> WorkspaceMemory:
    """Turn memory on or off for the workspace and choose its memory model ("" = each conversation's own).
    The model must be one the workspace offers now."""
    require(ctx, "models.manage")
    model = model.strip()
    if model:
        await ai_catalog.provider_for(ctx, model)  # a clear error for a model turned off or gone
    chosen = WorkspaceMemory(bool(enabled), model)
    async with global_session() as session:
        tenant = await session.get(Tenant, ctx.tenant_id, with_for_update=True)
        if tenant is None:
            raise NotFound("This workspace no longer exists.")
        before = from_config(tenant.config)
        tenant.config = {
            **(tenant.config or {}),
            "memory": {"enabled": chosen.enabled, "model": chosen.model},
        }
        flag_modified(tenant, "config")
        session.add(tenant)
    if before != chosen:
        async with tenant_session(ctx.tenant_id) as session:
            audit.record(
                session,
                ctx.tenant_id,
                AUDIT_ACTION,
                actor=ctx.user_id,
                ip=ctx.ip,
                enabled=chosen.enabled,
                model=chosen.model,
            )
    return chosen
