"""Admin → Tools → Composio: the workspace's own Composio API key (entered once, stored encrypted, never sent
back) or the operator's, and the toolkits its agents may use."""

from __future__ import annotations

import reflex as rx

from services.errors import ServiceError
from services.tools import composio
from state.session import require_user

SOURCES = {
    "workspace": "This workspace's own key.",
    "server": "The server's key (COMPOSIO_API_KEY), set by the operator.",
    "none": "No key: Composio tools are off until one is entered.",
}


class ComposioAdminState(rx.State):
    source: str = ""
    source_label: str = ""
    toolkits: str = ""  # comma-separated slugs, as the form shows them
    error: str = ""
    notice: str = ""
    form_key: int = 0

    async def _refresh(self) -> None:
        ctx = await require_user(self, "agents.manage")
        view = await composio.admin_view(ctx)
        self.source, self.source_label = view.source, SOURCES[view.source]
        self.toolkits = ", ".join(view.toolkits)
        self.form_key += 1

    @rx.event
    async def load(self):
        self.error = self.notice = ""
        try:
            await self._refresh()
            composio.warm_up()
        except ServiceError as exc:
            self.error = str(exc)

    @rx.event
    async def save(self, form: dict):
        """A key typed here replaces the workspace's (a blank field keeps it); the toolkits are saved as listed."""
        self.error = self.notice = ""
        key = str(form.get("composio_key", "")).strip()
        kits = [k for k in str(form.get("composio_toolkits", "")).replace(",", " ").split() if k]
        try:
            ctx = await require_user(self, "agents.manage")
            await composio.set_composio(ctx, api_key=key or None, toolkits=kits)
            await self._refresh()
        except ServiceError as exc:
            self.error = str(exc)
            return
        self.notice = "Saved." + (" The key is stored encrypted and is never shown again." if key else "")

    @rx.event
    async def use_server_key(self):
        self.error = self.notice = ""
        try:
            ctx = await require_user(self, "agents.manage")
            await composio.set_composio(ctx, api_key="")
            await self._refresh()
        except ServiceError as exc:
            self.error = str(exc)
            return
        self.notice = "This workspace now uses the server's key, if there is one."
