"""The signed-in user's own settings: name, password, sessions."""

from __future__ import annotations

from datetime import datetime

import reflex as rx

from services.auth import accounts
from services.errors import ServiceError
from state.session import SessionState, require_user


def _when(dt: datetime) -> str:
    return dt.strftime("%Y-%m-%d %H:%M UTC")


def describe_device(user_agent: str) -> str:
    """'Chrome on Linux' from a user-agent string; good enough to recognise one's own devices."""
    ua = user_agent.lower()
    browser = next(
        (name for key, name in (("edg/", "Edge"), ("firefox/", "Firefox"), ("chrome/", "Chrome"),
                                ("safari/", "Safari")) if key in ua),
        "",
    )  # fmt: skip
    system = next(
        (name for key, name in (("android", "Android"), ("iphone", "iPhone"), ("ipad", "iPad"),
                                ("windows", "Windows"), ("mac os", "macOS"), ("linux", "Linux")) if key in ua),
        "",
    )  # fmt: skip
    if browser and system:
        return f"{browser} on {system}"
    return browser or system or (user_agent[:60] if user_agent else "Unknown device")


class SettingsState(rx.State):
    name: str = ""
    email: str = ""
    has_password: bool = True
    sessions: list[dict[str, str]] = []
    profile_msg: str = ""
    password_msg: str = ""
    sessions_msg: str = ""
    error: str = ""

    @rx.event
    async def load(self):
        self.profile_msg = self.password_msg = self.sessions_msg = self.error = ""
        try:
            ctx = await require_user(self, "settings.own")
            me = await accounts.get_me(ctx)
            self.name, self.email, self.has_password = me.name, me.email, me.has_password
            await self._load_sessions(ctx)
        except ServiceError as exc:
            self.error = str(exc)

    async def _load_sessions(self, ctx) -> None:  # type: ignore[no-untyped-def]
        self.sessions = [
            {
                "id": str(s.id),
                "device": describe_device(s.user_agent),
                "ip": s.ip or "-",
                "last_seen": _when(s.last_seen_at),
                "current": "yes" if s.id == ctx.session_id else "",
            }
            for s in await accounts.list_sessions(ctx)
        ]

    @rx.event
    async def save_profile(self, form: dict):
        self.profile_msg = self.error = ""
        try:
            ctx = await require_user(self, "settings.own")
            me = await accounts.update_profile(ctx, name=form.get("name", ""))
            self.name = me.name
            session = await self.get_state(SessionState)
            session.user_name = me.name
            self.profile_msg = "Saved."
        except ServiceError as exc:
            self.error = str(exc)

    @rx.event
    async def change_password(self, form: dict):
        self.password_msg = self.error = ""
        if form.get("new_password", "") != form.get("confirm_password", ""):
            self.error = "The new passwords do not match."
            return
        try:
            ctx = await require_user(self, "settings.own")
            await accounts.change_password(
                ctx, current=form.get("current_password", ""), new=form.get("new_password", "")
            )
            self.password_msg = "Password changed. Your other sessions have been logged out."
            await self._load_sessions(ctx)
        except ServiceError as exc:
            self.error = str(exc)

    @rx.event
    async def log_out_everywhere(self):
        try:
            ctx = await require_user(self, "settings.own")
            await accounts.log_out_everywhere(ctx)
        except ServiceError as exc:
            self.error = str(exc)
            return
        return rx.call_script("window.location.replace('/auth/logout')")
