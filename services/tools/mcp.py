"""MCP servers as agent tools (the `mcp` SDK 2.x client over streamable HTTP; docs/research/agents-sdks.md says
why 2.x).

A workspace's admins add a server: a name, its URL and the headers it needs (a token: stored encrypted, never
shown again; only their names are). The URL obeys the rule of every address a tenant chooses
(services/netguard.py): public addresses only, checked when saved and again at every connection (the client's
transport is `PublicOnlyTransport`), unless the operator allowed a range with SOLO_OUTBOUND_ALLOW. Adding a
server connects and lists its tools; "Check again" lists them again. Each listed tool becomes an agent tool
named `mcp_<server slug>_<tool name>`, which only agents of that workspace may offer (`workspace_tools`), and
which runs as one short MCP session per call (the SDK's stateless protocol, or its older handshake).
"""

from __future__ import annotations

import json
import logging
import re
import uuid
from dataclasses import dataclass
from typing import Any

import httpx2
from sqlalchemy import select
from sqlmodel import col

from models import McpServer
from models.base import utcnow
from services import crypto
from services.auth.roles import require
from services.context import Ctx
from services.db import tenant_session
from services.errors import NotFound, ValidationError
from services.netguard import PublicOnlyTransport, check_public_url
from services.tools.base import Tool, ToolContext, ToolError, ToolResult

log = logging.getLogger("solo.tools.mcp")

CONNECT_TIMEOUT = 10.0
CALL_TIMEOUT = 60.0
MAX_TOOLS = 64
MAX_HEADERS = 10
NOT_FOUND = "That MCP server does not exist in this workspace."
_SLUG = re.compile(r"[^a-z0-9]+")
_TOOL_NAME = re.compile(r"[^a-z0-9_]+")


@dataclass(frozen=True, slots=True)
class ServerInfo:
    id: uuid.UUID
    name: str
    slug: str
    url: str
    header_names: tuple[str, ...]
    tools: tuple[dict[str, Any], ...]  # {"name", "description", "input_schema"} as the server listed them
    enabled: bool
    error: str
    checked: bool


def _info(row: McpServer) -> ServerInfo:
    return ServerInfo(
        row.id, row.name, row.slug, row.url, tuple(row.header_names or ()), tuple(row.tools or ()), row.enabled,
        row.error, row.checked_at is not None,
    )  # fmt: skip


def tool_name(slug: str, name: str) -> str:
    """The agent-tool name of an MCP tool (lowercase, at most 64 characters, as providers accept)."""
    return f"mcp_{slug}_{_TOOL_NAME.sub('_', name.lower()).strip('_')}"[:64]


def _headers(row: McpServer) -> dict[str, str]:
    if not row.headers_encrypted:
        return {}
    data = json.loads(crypto.decrypt(row.headers_encrypted))
    return {str(k): str(v) for k, v in data.items()}


def _client(headers: dict[str, str], timeout: float) -> httpx2.AsyncClient:
    """Public addresses only, checked at every connection (SOLO_OUTBOUND_ALLOW widens it, as for providers)."""
    return httpx2.AsyncClient(
        headers=headers,
        timeout=httpx2.Timeout(CONNECT_TIMEOUT, read=timeout),
        transport=PublicOnlyTransport(),
    )


def _flatten(exc: BaseException) -> BaseException:
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    return exc


def _explain(exc: BaseException) -> str:
    inner = _flatten(exc)
    if isinstance(inner, httpx2.ConnectError):
        return f"The MCP server could not be reached: {inner}"
    if isinstance(inner, httpx2.TimeoutException):
        return "The MCP server did not answer in time."
    return f"The MCP server refused the request ({type(inner).__name__}: {inner})."[:500]


async def _list_tools(url: str, headers: dict[str, str]) -> list[dict[str, Any]]:
    from mcp import Client  # a heavy import: only where an MCP server is used
    from mcp.client.streamable_http import streamable_http_client

    async with _client(headers, CONNECT_TIMEOUT * 3) as http:
        async with Client(streamable_http_client(url, http_client=http), read_timeout_seconds=30) as client:
            listed = (await client.list_tools()).tools
    return [
        {
            "name": t.name,
            "description": (t.description or "")[:1000],
            "input_schema": dict(t.input_schema or {"type": "object", "properties": {}}),
        }
        for t in listed[:MAX_TOOLS]
    ]


async def _check(row: McpServer) -> None:
    try:
        row.tools, row.error = await _list_tools(row.url, _headers(row)), ""
    except Exception as exc:
        log.info("MCP server %s: %s", row.url, exc)
        row.error = _explain(exc)
    row.checked_at = utcnow()


# Admin ----------------------------------------------------------------------------------------------------


async def add_server(ctx: Ctx, name: str, url: str, headers: dict[str, str] | None = None) -> ServerInfo:
    """Add a server and list its tools (a server that cannot be reached is saved with its error, to check again)."""
    require(ctx, "agents.manage")
    name, url = " ".join(name.split()), url.strip()
    if not name or len(name) > 80:
        raise ValidationError("Give the MCP server a name (at most 80 characters).")
    if len(url) > 500:
        raise ValidationError("The URL is too long.")
    await check_public_url(url)
    headers = {k.strip(): v.strip() for k, v in (headers or {}).items() if k.strip()}
    if len(headers) > MAX_HEADERS or any(not re.fullmatch(r"[A-Za-z0-9-]{1,64}", k) for k in headers):
        raise ValidationError(f"Headers are names of letters, digits and dashes (at most {MAX_HEADERS}).")
    slug = _SLUG.sub("", name.lower())[:16] or "server"
    async with tenant_session(ctx.tenant_id) as session:
        taken = set((await session.execute(select(col(McpServer.slug)))).scalars())
    base, n = slug, 2
    while slug in taken:
        slug, n = f"{base[:13]}{n}", n + 1
    row = McpServer(
        tenant_id=ctx.tenant_id, name=name, slug=slug, url=url,
        headers_encrypted=crypto.encrypt(json.dumps(headers)) if headers else None,
        header_names=sorted(headers), created_by=ctx.user_id,
    )  # fmt: skip
    await _check(row)  # no session is held while the server is asked
    async with tenant_session(ctx.tenant_id) as session:
        session.add(row)
        await session.flush()
        return _info(row)


async def check_again(ctx: Ctx, server_id: uuid.UUID) -> ServerInfo:
    require(ctx, "agents.manage")
    async with tenant_session(ctx.tenant_id) as session:
        row = await session.get(McpServer, server_id)
        if row is None:
            raise NotFound(NOT_FOUND)
        session.expunge(row)
    await _check(row)
    async with tenant_session(ctx.tenant_id) as session:
        stored = await session.get(McpServer, server_id, with_for_update=True)
        if stored is None:
            raise NotFound(NOT_FOUND)
        stored.tools, stored.error, stored.checked_at = row.tools, row.error, row.checked_at
        session.add(stored)
        return _info(stored)


async def set_enabled(ctx: Ctx, server_id: uuid.UUID, enabled: bool) -> None:
    require(ctx, "agents.manage")
    async with tenant_session(ctx.tenant_id) as session:
        row = await session.get(McpServer, server_id)
        if row is None:
            raise NotFound(NOT_FOUND)
        row.enabled = enabled
        session.add(row)


async def remove_server(ctx: Ctx, server_id: uuid.UUID) -> None:
    require(ctx, "agents.manage")
    async with tenant_session(ctx.tenant_id) as session:
        row = await session.get(McpServer, server_id)
        if row is None:
            raise NotFound(NOT_FOUND)
        await session.delete(row)


async def list_servers(ctx: Ctx) -> list[ServerInfo]:
    """For Admin (the headers' names, never their values)."""
    require(ctx, "agents.manage")
    async with tenant_session(ctx.tenant_id) as session:
        rows = (await session.execute(select(McpServer).order_by(col(McpServer.name)))).scalars()
        return [_info(r) for r in rows]


# As agent tools ------------------------------------------------------------------------------------------


class McpTool(Tool):
    """One tool of one workspace's MCP server (an instance per workspace and tool, never registered globally)."""

    def __init__(self, server: McpServer, listed: dict[str, Any]) -> None:
        self.name = tool_name(server.slug, str(listed["name"]))  # type: ignore[misc]
        description = str(listed.get("description") or "").strip() or f"The tool {listed['name']}."
        self.description = f"{description} (MCP server {server.name})"  # type: ignore[misc]
        schema = listed.get("input_schema") or {}
        if not isinstance(schema, dict) or schema.get("type") != "object":
            schema = {"type": "object", "properties": {}}
        self.parameters = schema  # type: ignore[misc]
        self.timeout = CALL_TIMEOUT  # type: ignore[misc]
        self.needs = f"mcp:{server.name}"  # type: ignore[misc]
        self._remote, self._url, self._server = str(listed["name"]), server.url, server

    async def run(self, call: ToolContext, arguments: dict[str, Any]) -> ToolResult:
        from mcp import Client
        from mcp.client.streamable_http import streamable_http_client

        try:
            async with _client(_headers(self._server), CALL_TIMEOUT) as http:
                async with Client(streamable_http_client(self._url, http_client=http)) as client:
                    result = await client.call_tool(self._remote, arguments)
        except Exception as exc:
            inner = _flatten(exc)
            retry = isinstance(inner, httpx2.TransportError)
            raise ToolError(_explain(exc), retryable=retry) from exc
        texts = [str(getattr(block, "text", "")) for block in result.content if getattr(block, "text", None)]
        others = [type(block).__name__ for block in result.content if not getattr(block, "text", None)]
        text = "\n".join(texts) + (f"\n[{', '.join(others)} not shown]" if others else "")
        if result.is_error:
            raise ToolError(text.strip() or "The MCP tool reported an error.")
        structured = result.structured_content
        return ToolResult(text=text.strip() or json.dumps(structured or {}), data=structured)


async def workspace_tools(ctx: Ctx) -> list[Tool]:
    """The tools of the workspace's enabled MCP servers, as agent tools (members' agents may offer them)."""
    async with tenant_session(ctx.tenant_id) as session:
        rows = list(
            (await session.execute(select(McpServer).where(col(McpServer.enabled).is_(True)))).scalars()
        )
    tools: list[Tool] = []
    for row in rows:
        for listed in row.tools or []:
            try:
                tools.append(McpTool(row, listed))
            except (KeyError, TypeError):
                continue
    return tools
