"""Admin → Tools: the built-in tools, and the workspace's MCP servers (add, check again, turn off, remove).

Header values (tokens) travel once, from the browser's form to `mcp.add_server`, inside the submit handler: they
are never kept in a var, so they never come back to the browser. The typed values stay in the form itself (it is
uncontrolled); `form_key` changes to empty it after a server is saved."""

from __future__ import annotations

import uuid
from typing import Any

import reflex as rx

from services.errors import ServiceError, ValidationError
from services.tools import mcp, registry
from services.tools.mcp import ServerInfo
from state.session import require_user

PERMISSION = "agents.manage"
GONE = "That MCP server is no longer listed. Reload the page."
OPEN_UP_TO = 5  # a server with more tools than this shows them collapsed


def _count(n: int) -> str:
    return f"{n} tool" if n == 1 else f"{n} tools"


def _row(s: ServerInfo) -> dict[str, Any]:
    tools = [
        {
            "name": mcp.tool_name(s.slug, str(t.get("name", ""))),
            "description": str(t.get("description") or ""),
        }
        for t in s.tools
    ]
    return {
        "id": str(s.id),
        "name": s.name,
        "url": s.url,
        "headers": list(s.header_names),
        "tools": tools,
        "count": _count(len(tools)),
        "many": len(tools) > OPEN_UP_TO,
        "enabled": s.enabled,
        "error": s.error,
    }


def _headers(form: dict[str, Any], rows: list[int]) -> dict[str, str]:
    """The header rows of the form, as `add_server` takes them (a row left empty is skipped)."""
    headers: dict[str, str] = {}
    for row in rows:
        name = str(form.get(f"header_name_{row}", "")).strip()
        value = str(form.get(f"header_value_{row}", "")).strip()
        if not name and not value:
            continue
        if not name:
            raise ValidationError("Give each header value its header's name, e.g. Authorization.")
        if not value:
            raise ValidationError(f"Give the header {name} a value, or remove it.")
        if name.lower() in (n.lower() for n in headers):
            raise ValidationError(f"The header {name} is given twice: keep one.")
        headers[name] = value
    return headers


class AdminToolsState(rx.State):
    allowed: bool = False
    builtins: list[dict[str, str]] = []  # {name, description}
    servers: list[dict[str, Any]] = []  # _row()
    error: str = ""  # the list's own actions (switch, check again, remove)
    notice: str = ""
    checking: str = ""  # the id of the server being checked again
    # The "Add an MCP server" form: its outcome is shown inside it.
    add_error: str = ""
    add_notice: str = ""
    add_warning: str = ""  # saved, but the server did not list its tools
    adding: bool = False
    form_key: int = 0
    header_rows: list[int] = [0]  # one pair of header fields per entry; the number is its inputs' key
    _next_row: int = 1
    # Removing a server asks first.
    remove_open: bool = False
    remove_name: str = ""
    _remove_id: str = ""

    def _clear(self) -> None:
        self.error = self.notice = self.add_error = self.add_notice = self.add_warning = ""

    async def _refresh(self) -> None:
        ctx = await require_user(self, PERMISSION)
        self.servers = [_row(s) for s in await mcp.list_servers(ctx)]

    def _listed(self, server_id: str) -> uuid.UUID | None:
        """The id of a server this page lists (anything else, e.g. a stale or made-up id, is refused)."""
        if not any(s["id"] == server_id for s in self.servers):
            return None
        return uuid.UUID(server_id)

    def _name(self, server_id: str) -> str:
        return next((str(s["name"]) for s in self.servers if s["id"] == server_id), "the server")

    @rx.event
    async def load(self):
        self._clear()
        self.checking, self.adding = "", False
        self.remove_open, self.remove_name, self._remove_id = False, "", ""
        self.header_rows, self._next_row = [0], 1
        try:
            await self._refresh()
            self.builtins = [{"name": t.name, "description": t.description} for t in registry.list_tools()]
            self.allowed = True
        except ServiceError as exc:
            self.allowed = False
            self.servers, self.builtins = [], []
            self.error = str(exc)

    @rx.event
    async def add_header_row(self):
        try:
            await require_user(self, PERMISSION)
        except ServiceError as exc:
            self.add_error = str(exc)
            return
        if len(self.header_rows) < mcp.MAX_HEADERS:
            self.header_rows = [*self.header_rows, self._next_row]
            self._next_row += 1

    @rx.event
    async def remove_header_row(self, row: int):
        try:
            await require_user(self, PERMISSION)
        except ServiceError as exc:
            self.add_error = str(exc)
            return
        self.header_rows = [r for r in self.header_rows if r != row] or [self._next_row]
        self._next_row += 1

    @rx.event
    async def add_server(self, form: dict):
        """The form's submit: saves the server and lists its tools (it may take a few seconds)."""
        self._clear()
        self.adding = True
        yield  # the button shows that it is working
        try:
            ctx = await require_user(self, PERMISSION)
            headers = _headers(form, self.header_rows)
            added = await mcp.add_server(ctx, str(form.get("name", "")), str(form.get("url", "")), headers)
            await self._refresh()
        except ServiceError as exc:
            self.add_error = str(exc)  # the form keeps what was typed
            return
        finally:
            self.adding = False
        self.form_key += 1  # empties the form for the next one
        self.header_rows, self._next_row = [self._next_row], self._next_row + 1
        kept = " Its headers are stored encrypted and never shown again." if added.header_names else ""
        if added.error:
            self.add_warning = (
                f"Saved {added.name}, but it did not list its tools: {added.error} Check its address and "
                "token, then use Check again; to change a header, remove the server and add it again."
            )
        elif added.tools:
            self.add_notice = f"Added {added.name}: it offers {_count(len(added.tools))}.{kept}"
        else:
            self.add_notice = f"Added {added.name}, but it offers no tools yet.{kept}"

    @rx.event
    async def check_again(self, server_id: str):
        """Ask the server for its tools again (after fixing it, or to see tools it added)."""
        self._clear()
        target = self._listed(server_id)
        if target is None:
            self.error = GONE
            return
        self.checking = server_id
        yield
        try:
            ctx = await require_user(self, PERMISSION)
            checked = await mcp.check_again(ctx, target)
            await self._refresh()
        except ServiceError as exc:
            self.error = str(exc)
            return
        finally:
            self.checking = ""
        if checked.error:
            self.error = f"{checked.name} still did not list its tools: {checked.error}"
        else:
            self.notice = f"Checked {checked.name}: it offers {_count(len(checked.tools))}."

    @rx.event
    async def set_enabled(self, server_id: str, on: bool):
        """The switch: a server turned off keeps its settings, and its tools leave every agent until it is on."""
        self._clear()
        target = self._listed(server_id)
        if target is None:
            self.error = GONE
            return
        try:
            ctx = await require_user(self, PERMISSION)
            await mcp.set_enabled(ctx, target, bool(on))
            await self._refresh()
        except ServiceError as exc:
            self.error = str(exc)
            return
        name = self._name(server_id)
        self.notice = (
            f"{name} is on: agents can offer its tools."
            if on
            else f"{name} is off: agents do not offer its tools until it is on again."
        )

    @rx.event
    async def ask_remove(self, server_id: str):
        """Open the confirmation (nothing is removed yet)."""
        self._clear()
        try:
            await require_user(self, PERMISSION)
        except ServiceError as exc:
            self.error = str(exc)
            return
        if self._listed(server_id) is None:
            self.error = GONE
            return
        self._remove_id, self.remove_name, self.remove_open = server_id, self._name(server_id), True

    @rx.event
    def remove_dialog_changed(self, is_open: bool):
        if not is_open:  # Cancel, Escape or a click outside
            self.remove_open, self.remove_name, self._remove_id = False, "", ""

    @rx.event
    async def confirm_remove(self):
        server_id, name = self._remove_id, self.remove_name
        self.remove_open, self._remove_id = False, ""
        self._clear()
        target = self._listed(server_id) if server_id else None
        if target is None:
            return
        try:
            ctx = await require_user(self, PERMISSION)
            await mcp.remove_server(ctx, target)
            await self._refresh()
        except ServiceError as exc:
            self.error = str(exc)
            return
        self.notice = f"Removed {name}."
