"""The signed-in user's own settings: name, password, connected accounts, sessions."""

from __future__ import annotations

import uuid
from datetime import datetime

import reflex as rx

from services.auth import accounts, deletion, oauth, oauth_links
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
    # Sessions: display data only; their ids stay backend-only, matched by position.
    sessions: list[dict[str, str]] = []
    _session_ids: list[str] = []
    # Each form shows its own outcome inside it: an error or a success, never both.
    profile_msg: str = ""
    profile_error: str = ""
    password_msg: str = ""
    password_error: str = ""
    password_form: int = 0  # changes to empty the password form after a change (kept after an error)
    sessions_msg: str = ""
    sessions_error: str = ""
    # Connected sign-in providers (plain display data; their ids stay backend-only, matched by position).
    connected: list[dict[str, str]] = []
    connectable: list[dict[str, str]] = []
    connected_msg: str = ""
    connected_error: str = ""
    _connected_ids: list[str] = []
    delete_error: str = ""
    error: str = ""  # the page could not be loaded at all

    def _clear(self) -> None:
        self.profile_msg = self.profile_error = self.password_msg = self.password_error = ""
        self.sessions_msg = self.sessions_error = self.connected_msg = self.connected_error = ""
        self.error = self.delete_error = ""

    @rx.event
    async def load(self):
        self._clear()
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
        self._clear()
        try:
            ctx = await require_user(self, "settings.own")
            if not isinstance(index, int) or not 0 <= index < len(self._connected_ids):
                self.connected_error = "That connected account is no longer listed. Reload the page."
                return
            await oauth_links.unlink(ctx, uuid.UUID(self._connected_ids[index]))
            label = self.connected[index]["label"] if index < len(self.connected) else "The provider"
            await self._load_connected(ctx)
            self.connected_msg = f"{label} is disconnected."
        except ServiceError as exc:
            self.connected_error = str(exc)

    async def _load_sessions(self, ctx) -> None:  # type: ignore[no-untyped-def]
        found = await accounts.list_sessions(ctx)
        # This device first, then the others by last activity.
        found.sort(key=lambda s: s.id != ctx.session_id)
        self._session_ids = [str(s.id) for s in found]
        self.sessions = [
            {
                "device": describe_device(s.user_agent),
                "ip": s.ip or "-",
                "last_seen": _when(s.last_seen_at),
                "signed_in": _when(s.created_at),
                "current": "yes" if s.id == ctx.session_id else "",
            }
            for s in found
        ]

    @rx.event
    async def save_profile(self, form: dict):
        self._clear()
        try:
            ctx = await require_user(self, "settings.own")
            me = await accounts.update_profile(ctx, name=str(form.get("name", "")))
            self.name = me.name
            session = await self.get_state(SessionState)
            session.user_name = me.name
            self.profile_msg = "Saved."
        except ServiceError as exc:
            self.profile_error = str(exc)

    @rx.event
    async def change_password(self, form: dict):
        self._clear()
        if form.get("new_password", "") != form.get("confirm_password", ""):
            self.password_error = "The new passwords do not match: type the same one twice."
            return
        try:
            ctx = await require_user(self, "settings.own")
            await accounts.change_password(
                ctx, current=str(form.get("current_password", "")), new=str(form.get("new_password", ""))
            )
        except ServiceError as exc:
            self.password_error = str(exc)
            return
        self.password_form += 1  # empties the form
        self.has_password = True
        self.password_msg = "Password changed. Your other sessions have been logged out."
        try:
            await self._load_sessions(ctx)
        except ServiceError as exc:
            self.sessions_error = str(exc)

    @rx.event
    async def revoke_session(self, index: int):
        """End one session. Ending this browser's own session is logging out."""
        self._clear()
        try:
            ctx = await require_user(self, "settings.own")
            if not isinstance(index, int) or not 0 <= index < len(self._session_ids):
                self.sessions_error = "That session is no longer listed. Reload the page."
                return
            device = self.sessions[index]["device"] if index < len(self.sessions) else "That session"
            was_current = await accounts.revoke_session(ctx, uuid.UUID(self._session_ids[index]))
        except ServiceError as exc:
            self.sessions_error = str(exc)
            return
        if was_current:
            return rx.call_script(LOG_OUT_SCRIPT)
        try:
            await self._load_sessions(ctx)
        except ServiceError as exc:
            self.sessions_error = str(exc)
            return
        self.sessions_msg = f"{device} is signed out. It has to log in again to use your account."

    @rx.event
    async def log_out_everywhere(self):
        self._clear()
        try:
            ctx = await require_user(self, "settings.own")
            await accounts.log_out_everywhere(ctx)
        except ServiceError as exc:
            self.sessions_error = str(exc)
            return
        return rx.call_script(LOG_OUT_SCRIPT)

    @rx.event
    async def delete_account(self, form: dict):
        """ "Delete my account": everything of the member goes (services/auth/deletion.py), then they are signed out."""
        self._clear()
        try:
            ctx = await require_user(self, "settings.own")
            await deletion.delete_account(ctx, str(form.get("confirm_email", "")))
        except ServiceError as exc:
            self.delete_error = str(exc)
            return
        return rx.call_script(LOG_OUT_SCRIPT)
