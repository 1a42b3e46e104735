"""Members page, "Who may join": the workspace's sign-up mode and invitations (owners and admins)."""

from __future__ import annotations

import re

import reflex as rx

from services import tenants
from services.auth import invites
from services.errors import ServiceError
from state.session import require_user


class JoiningState(rx.State):
    allowed: bool = False
    mode: str = "open"
    domains: str = ""
    error: str = ""
    notice: str = ""

    @rx.event
    async def load(self):
        self.error = self.notice = ""
        try:
            ctx = await require_user(self, "members.manage")
        except ServiceError:
            self.allowed = False
            return
        self.allowed = True
        policy = await tenants.get_signup_policy(ctx.tenant_id)
        self.mode, self.domains = policy.mode, ", ".join(policy.domains)

    @rx.event
    def choose_mode(self, mode: str):
        if mode in tenants.SIGNUP_MODES:
            self.mode = mode

    @rx.event
    async def save_policy(self, form: dict):
        self.error = self.notice = ""
        try:
            ctx = await require_user(self, "members.manage")
            domains = [d for d in re.split(r"[\s,;]+", str(form.get("domains", ""))) if d]
            policy = await tenants.set_signup_policy(ctx, str(form.get("mode") or self.mode), domains)
            self.mode, self.domains = policy.mode, ", ".join(policy.domains)
            self.notice = "Saved: who may join is updated."
        except ServiceError as exc:
            self.error = str(exc)  # the form keeps what was typed

    @rx.event
    async def invite(self, form: dict):
        self.error = self.notice = ""
        try:
            ctx = await require_user(self, "members.manage")
            role = str(form.get("role", "") or "member")
            email = await invites.invite_member(ctx, email=str(form.get("email", "")), role=role)
            self.notice = f"Invitation sent to {email} (as {role}). The link works for a week."
        except ServiceError as exc:
            self.error = str(exc)
