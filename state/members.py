"""Members page (owners and admins): list, change roles, suspend and restore."""

from __future__ import annotations

import uuid

import reflex as rx

from models import ROLES
from services.auth import accounts
from services.errors import ServiceError
from state.session import require_user


class MembersState(rx.State):
    members: list[dict[str, str]] = []
    error: str = ""
    notice: str = ""
    allowed: bool = False

    async def _refresh(self, ctx) -> None:  # type: ignore[no-untyped-def]
        self.members = [
            {
                "id": str(u.id),
                "name": u.name,
                "email": u.email,
                "role": u.role,
                "status": u.status,
                "is_me": "yes" if u.id == ctx.user_id else "",
                "joined": u.created_at.strftime("%Y-%m-%d"),
            }
            for u in await accounts.list_members(ctx)
        ]

    @rx.event
    async def load(self):
        self.error = self.notice = ""
        try:
            ctx = await require_user(self, "members.view")
            self.allowed = True
            await self._refresh(ctx)
        except ServiceError as exc:
            self.allowed = False
            self.members = []
            self.error = str(exc)

    @rx.event
    async def set_role(self, user_id: str, role: str):
        self.error = self.notice = ""
        if role not in ROLES:
            self.error = "Unknown role."
            return
        try:
            ctx = await require_user(self, "members.manage")
            info = await accounts.set_role(ctx, uuid.UUID(user_id), role)
            self.notice = f"{info.email} is now {info.role}."
            await self._refresh(ctx)
        except (ServiceError, ValueError) as exc:
            self.error = str(exc)

    @rx.event
    async def set_status(self, user_id: str, status: str):
        self.error = self.notice = ""
        try:
            ctx = await require_user(self, "members.manage")
            info = await accounts.set_status(ctx, uuid.UUID(user_id), status)
            self.notice = f"{info.email} is {'suspended' if info.status == 'suspended' else 'active again'}."
            await self._refresh(ctx)
        except (ServiceError, ValueError) as exc:
            self.error = str(exc)
