"""The signed-in user's own settings: name, password, connected accounts, sessions."""

from __future__ import annotations

import uuid
from datetime import datetime

import reflex as rx

from services.auth import accounts, oauth, oauth_links
from services.errors import ServiceError
from state.session import LOG_OUT_SCRIPT, SessionState, require_user


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
    # Connected sign-in providers (plain display data; their ids stay backend-only, matched by position).
    connected: list[dict[str, str]] = []
    connectable: list[dict[str, str]] = []
    connected_msg: str = ""
    _connected_ids: list[str] = []
    error: str = ""

    @rx.event
    async def load(self):
        self.profile_msg = self.password_msg = self.sessions_msg = self.error = ""
        try:
            ctx = await require_user(self, "settings.own")
            me = await accounts.get_me(ctx)
            self.name, self.email, self.has_password = me.name, me.email, me.has_password
            await self._load_sessions(ctx)
            await self._load_connected(ctx)
        except ServiceError as exc:
            self.error = str(exc)
            return
        just = self.router.url.query_parameters.get("connected", "")
        label = next((p["label"] for p in self.connected if p["provider"] == just), "")
        self.connected_msg = f"{label} is now connected: you can sign in with it." if label else ""

    async def _load_connected(self, ctx) -> None:  # type: ignore[no-untyped-def]
        rows = await oauth_links.list_connected(ctx)
        self._connected_ids = [str(r.id) for r in rows]
        self.connected = [{"provider": r.provider, "label": r.label, "email": r.email or "-"} for r in rows]
        have = {r.provider for r in rows}
        self.connectable = [
            {"label": p.label, "href": f"/auth/oauth/{p.id}/start?mode=link"}
            for p in oauth.configured_providers()
            if p.id not in have
        ]

    @rx.event
    async def unlink(self, index: int):
        self.connected_msg = self.error = ""
        try:
            ctx = await require_user(self, "settings.own")
            if not isinstance(index, int) or not 0 <= index < len(self._connected_ids):
                self.error = "That connected account is no longer listed. Reload the page."
                return
            await oauth_links.unlink(ctx, uuid.UUID(self._connected_ids[index]))
            label = self.connected[index]["label"] if index < len(self.connected) else "The provider"
            await self._load_connected(ctx)
            self.connected_msg = f"{label} is disconnected."
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
        return rx.call_script(LOG_OUT_SCRIPT)
