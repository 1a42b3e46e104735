"""A real MCP server on loopback for tests: the SDK's own `MCPServer`, streamable HTTP, served by uvicorn in a
background thread on a free port (a fresh app per start: one app serves once).

    with McpTestServer(token="s3cret") as server:
        server.url      # http://127.0.0.1:PORT/mcp
        server.calls    # (tool, arguments, authorization header) of every call

Tools: `add(a, b)`, `lookup_contact(email)` (a small CRM), `whoami()` (the Authorization header it got), `fail()`
(reports an error). With `token`, a request without `Authorization: Bearer <token>` is answered 401.
"""

from __future__ import annotations

import socket
import threading
import time
from types import TracebackType
from typing import Any, Self

from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from starlette.responses import JSONResponse


class McpTestServer:
    def __init__(self, token: str = "") -> None:
        self.token = token
        self.calls: list[tuple[str, dict[str, Any], str]] = []
        self._server: Any = None
        self._thread: threading.Thread | None = None
        self.port = 0

    def _app(self) -> Any:
        mcp = MCPServer("test-crm", log_level="WARNING")
        seen = self.calls

        def auth(ctx: Context) -> str:
            return str((ctx.headers or {}).get("authorization", ""))

        @mcp.tool()
        def add(a: int, b: int, ctx: Context) -> int:
            """Add two whole numbers."""
            seen.append(("add", {"a": a, "b": b}, auth(ctx)))
            return a + b

        @mcp.tool()
        def lookup_contact(email: str, ctx: Context) -> dict[str, str]:
            """Find a contact of the CRM by email address."""
            seen.append(("lookup_contact", {"email": email}, auth(ctx)))
            if email != "dana@example.com":
                raise ToolError(f"No contact has the email {email}.")
            return {"name": "Dana Díaz", "stage": "Discovery call booked"}

        @mcp.tool()
        def whoami(ctx: Context) -> str:
            """Say which credentials the request carried."""
            return auth(ctx)

        app = mcp.streamable_http_app()
        if not self.token:
            return app
        expected = f"Bearer {self.token}"

        async def guarded(scope: Any, receive: Any, send: Any) -> None:
            if scope["type"] == "http":
                headers = {k.decode().lower(): v.decode() for k, v in scope.get("headers", [])}
                if headers.get("authorization") != expected:
                    await JSONResponse({"error": "unauthorized"}, status_code=401)(scope, receive, send)
                    return
            await app(scope, receive, send)

        return guarded

    def start(self) -> Self:
        import uvicorn

        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        config = uvicorn.Config(
            self._app(), host="127.0.0.1", port=self.port, log_level="warning", lifespan="on"
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True, name="mcp-test-server")
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("the MCP test server did not start")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(5)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/mcp"

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
