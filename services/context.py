"""Who is asking: passed explicitly to every service call."""

from __future__ import annotations

import uuid
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class TenantCtx:
    """A request inside a tenant, before anybody has signed in."""

    tenant_id: uuid.UUID
    ip: str = ""
    user_agent: str = ""


@dataclass(frozen=True, slots=True)
class Ctx:
    """A signed-in user inside their tenant."""

    tenant_id: uuid.UUID
    user_id: uuid.UUID
    role: str
    is_platform_admin: bool = False
    session_id: uuid.UUID | None = None
    ip: str = ""
