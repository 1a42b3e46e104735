"""Members page (owners and admins): search, list page by page, change roles, suspend and restore.

Changes that take something away (suspending, lowering a role) are asked first: the handler opens the
confirmation and keeps what to do backend-only; `confirm` does it, checking who is asking again."""

from __future__ import annotations

import uuid

import reflex as rx

from models import ROLES
from services.auth import accounts, members
from services.auth.roles import RANK, has
from services.billing import plans
from services.context import Ctx
from services.errors import NotFound, ServiceError
from state.session import require_user

PAGE = 50  # members per page ("Load more" adds the next)

# What somebody can no longer do when they leave a role (for the confirmation of a lower role).
_LOSES = {
    "owner": "make or unmake owners and manage the whole workspace",
    "admin": "manage members, who may join and the AI models",
    "instructor": "create and edit courses",
}


class MembersState(rx.State):
    members: list[dict[str, str]] = []
    query: str = ""
    has_more: bool = False
    error: str = ""
    notice: str = ""
    allowed: bool = False
    # The confirmation dialog.
    confirm_open: bool = False
    confirm_title: str = ""
    confirm_text: str = ""
    confirm_button: str = ""
    _pending: tuple[str, str, str] = ("", "", "")  # (action, user id, value)
    # Plans (admins who manage billing): the choices, and each row's "plan" ("default" or a plan id).
    plan_options: list[dict[str, str]] = []

    @staticmethod
    def _row(u: accounts.UserInfo, me: uuid.UUID) -> dict[str, str]:
        return {
            "id": str(u.id),
            "name": u.name,
            "email": u.email,
            "role": u.role,
            "status": u.status,
            "is_me": "yes" if u.id == me else "",
            "joined": u.created_at.strftime("%Y-%m-%d"),
        }

    async def _refresh(self, ctx, *, more: bool = False) -> None:  # type: ignore[no-untyped-def]
        """The first page (or, with `more`, the next one) of the members matching the search."""
        offset = len(self.members) if more else 0
        # On a refresh after a change, keep as many rows as were shown.
        wanted = PAGE if more else max(PAGE, len(self.members))
        found = await members.list_members(ctx, query=self.query, limit=wanted + 1, offset=offset)
        rows = [self._row(u, ctx.user_id) for u in found[:wanted]]
        await self._plans(ctx, rows)
        self.members = self.members + rows if more else rows
        self.has_more = len(found) > wanted

    async def _plans(self, ctx: Ctx, rows: list[dict[str, str]]) -> None:
        if not has(ctx, "billing.manage"):
            self.plan_options = []
            return
        offered = await plans.list_plans(ctx, include_archived=True)
        default = next((p for p in offered if p.is_default), None)
        self.plan_options = [
            {"value": "default", "label": f"Default ({default.name})" if default else "Default"}
        ]
        self.plan_options += [
            {"value": str(p.id), "label": p.name + (" (archived)" if p.archived else "")} for p in offered
        ]
        own = await plans.plans_of_members(ctx, [uuid.UUID(r["id"]) for r in rows])
        for row in rows:
            chosen = own.get(uuid.UUID(row["id"]))
            row["plan"] = str(chosen) if chosen else "default"

    @rx.event
    async def set_plan(self, user_id: str, value: str):
        """Admins give a member a plan (comped: no payment), or put them back on the default one."""
        self.error = self.notice = ""
        member = self._who(user_id)
        try:
            ctx = await require_user(self, "billing.manage")
            if member is None:
                raise NotFound("That member is no longer listed. Reload the page.")
            plan_id = None if value == "default" else uuid.UUID(str(value))
            info = await plans.set_member_plan(ctx, uuid.UUID(user_id), plan_id)
            self.notice = f"{member['email']} is now on the {info.name} plan."
            await self._refresh(ctx)
        except (ServiceError, ValueError) as exc:
            self.error = str(exc) if isinstance(exc, ServiceError) else "Unknown plan."

    @rx.event
    async def load(self):
        self.error = self.notice = ""
        self.query, self.members = "", []
        self.confirm_open, self._pending = False, ("", "", "")
        try:
            ctx = await require_user(self, "members.view")
            self.allowed = True
            await self._refresh(ctx)
        except ServiceError as exc:
            self.allowed = False
            self.members, self.has_more = [], False
            self.error = str(exc)

    @rx.event
    async def search(self, query: str):
        """The search box (debounced in the page): name or email containing the text, any case."""
        self.error = self.notice = ""
        self.query = str(query)[:200]
        try:
            ctx = await require_user(self, "members.view")
            self.members = []
            await self._refresh(ctx)
        except ServiceError as exc:
            self.error = str(exc)

    @rx.event
    async def load_more(self):
        try:
            ctx = await require_user(self, "members.view")
            await self._refresh(ctx, more=True)
        except ServiceError as exc:
            self.error = str(exc)

    def _who(self, user_id: str) -> dict[str, str] | None:
        return next((m for m in self.members if m["id"] == user_id), None)

    def _ask(self, action: str, user_id: str, value: str, title: str, text: str, button: str) -> None:
        self._pending = (action, user_id, value)
        self.confirm_title, self.confirm_text, self.confirm_button = title, text, button
        self.confirm_open = True

    @rx.event
    async def set_role(self, user_id: str, role: str):
        """The role menu. Raising a role happens at once; lowering one is confirmed first."""
        self.error = self.notice = ""
        if role not in ROLES:
            self.error = "Unknown role."
            return
        try:
            ctx = await require_user(self, "members.manage")
        except ServiceError as exc:
            self.error = str(exc)
            return
        member = self._who(user_id)
        if member is None:
            self.error = "That member is no longer listed. Reload the page."
            return
        old = member["role"]
        if RANK.get(role, 0) < RANK.get(old, 0):
            who = member["name"] or member["email"]
            self._ask(
                "role",
                user_id,
                role,
                f"Make {who} {'an' if role[0] in 'aeiou' else 'a'} {role}?",
                f"{who} ({member['email']}) will no longer be able to {_LOSES.get(old, 'do what a ' + old + ' does')}. "
                "You can change the role back later.",
                f"Make {role}",
            )
            return
        await self._set_role(ctx, user_id, role)

    async def _set_role(self, ctx, user_id: str, role: str) -> None:  # type: ignore[no-untyped-def]
        try:
            info = await members.set_role(ctx, uuid.UUID(user_id), role)
            self.notice = f"{info.email} is now {info.role}."
            await self._refresh(ctx)
        except (ServiceError, ValueError) as exc:
            self.error = str(exc)

    @rx.event
    async def ask_suspend(self, user_id: str):
        self.error = self.notice = ""
        try:
            await require_user(self, "members.manage")
        except ServiceError as exc:
            self.error = str(exc)
            return
        member = self._who(user_id)
        if member is None:
            self.error = "That member is no longer listed. Reload the page."
            return
        who = member["name"] or member["email"]
        self._ask(
            "suspend",
            user_id,
            "suspended",
            f"Suspend {who}?",
            f"{who} ({member['email']}) is signed out everywhere at once and cannot sign in until restored. "
            "Their chats are kept.",
            "Suspend",
        )

    @rx.event
    async def restore(self, user_id: str):
        """Restore a suspended member (nothing is lost: no confirmation)."""
        self.error = self.notice = ""
        try:
            ctx = await require_user(self, "members.manage")
        except ServiceError as exc:
            self.error = str(exc)
            return
        await self._set_status(ctx, user_id, "active")

    async def _set_status(self, ctx, user_id: str, status: str) -> None:  # type: ignore[no-untyped-def]
        try:
            info = await members.set_status(ctx, uuid.UUID(user_id), status)
            self.notice = f"{info.email} is {'suspended' if info.status == 'suspended' else 'active again'}."
            await self._refresh(ctx)
        except (ServiceError, ValueError) as exc:
            self.error = str(exc)

    @rx.event
    def confirm_changed(self, is_open: bool):
        if not is_open:  # Cancel, Escape or a click outside: nothing happens
            self.confirm_open, self._pending = False, ("", "", "")

    @rx.event
    async def confirm(self):
        action, user_id, value = self._pending
        self.confirm_open, self._pending = False, ("", "", "")
        self.error = self.notice = ""
        if not action:
            return
        try:
            ctx = await require_user(self, "members.manage")
        except ServiceError as exc:
            self.error = str(exc)
            return
        if action == "role":
            await self._set_role(ctx, user_id, value)
        elif action == "suspend":
            await self._set_status(ctx, user_id, "suspended")
