from __future__ import annotations

import uuid
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from models import AuditLog


def record(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    action: str,
    *,
    actor: uuid.UUID | None = None,
    target: uuid.UUID | None = None,
    ip: str = "",
    **detail: Any,
) -> None:
    session.add(
        AuditLog(
            tenant_id=tenant_id,
            actor_user_id=actor,
            target_user_id=target,
            action=action,
            ip=ip,
            detail=detail,
        )
    )
