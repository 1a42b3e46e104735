"""Settings → Connections: the member's own accounts for the workspace's Composio toolkits (GoHighLevel...), which
their agents' tools act through. The Composio user is made on the server from the signed-in member; the browser
only names a toolkit, checked against the workspace's."""

from __future__ import annotations

import json

import reflex as rx

from services import tenants
from services.errors import ServiceError
from services.tools import composio
from state.session import require_user

STATUS_LABELS = {
    "ACTIVE": "Connected",
    "INITIATED": "Waiting for you to finish signing in",
    "INITIALIZING": "Waiting for you to finish signing in",
    "EXPIRED": "Expired: connect again",
    "FAILED": "Failed: connect again",
    "INACTIVE": "Turned off",
    "REVOKED": "Revoked: connect again",
    "": "Not connected",
}


class ToolConnectionsState(rx.State):
    rows: list[dict[str, str]] = []
    error: str = ""
    loaded: bool = False

    async def _refresh(self) -> None:
        ctx = await require_user(self, "settings.own")
        found = await composio.connections(ctx)
        self.rows = [
            {
                "toolkit": c.toolkit,
                "label": c.label,
                "status": c.status,
                "status_label": STATUS_LABELS.get(c.status, c.status.title()),
                "needs_account": "yes" if c.needs_account else "",
            }
            for c in found
        ]

    @rx.event
    async def load(self):
        self.error = ""
        try:
            await self._refresh()
        except ServiceError as exc:
            self.rows, self.error = [], str(exc)
        self.loaded = True

    @rx.event
    async def connect(self, toolkit: str):
        """Composio's hosted sign-in for the member's account; it comes back to Settings."""
        self.error = ""
        try:
            ctx = await require_user(self, "settings.own")
            tenant = await tenants.get_info(ctx.tenant_id)
            back = f"{tenants.public_origin(tenant)}/settings?tools=1" if tenant is not None else ""
            url = await composio.connect(ctx, str(toolkit)[:60], back)
        except ServiceError as exc:
            self.error = str(exc)
            return
        return rx.call_script(f"window.location.assign({json.dumps(url)})")  # this tab, not a new one
