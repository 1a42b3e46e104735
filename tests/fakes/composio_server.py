"""A loopback fake of the Composio API (v3.1 paths, as the installed `composio` SDK 0.30 calls them; see
docs/research/agents-sdks.md), for the real SDK to talk to:

    GET  /api/v3.1/tools?toolkit_slug=...        {"items": [Tool], ...}
    GET  /api/v3.1/tools/{slug}                  Tool
    POST /api/v3.1/tools/execute/{slug}          {"user_id", "version", "arguments"} -> {"data", "error", "successful"}
    GET  /api/v3.1/connected_accounts?user_ids=  {"items": [Account], ...}
    GET  /api/v3.1/auth_configs?toolkit_slug=    {"items": [{"id", ...}], ...}
    POST /api/v3.1/connected_accounts/link       {"auth_config_id", "user_id", "callback_url"} -> 201 {...}

Toolkits: COMPOSIO_SEARCH (web search, no auth) and highlevel (GoHighLevel: contacts and opportunities; needs a
connected account of the calling user). Requests must carry `x-api-key` (as the SDK sends it) with one of
`server.keys` (the default key, plus any a test adds); others get Composio's 401 error object. `server.requests`
records (method, path, query, body) and `server.used_keys` the key each one carried; `server.activate(user_id)`
marks a user's HighLevel connection ACTIVE (as the OAuth callback would).
"""

from __future__ import annotations

import json
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Self
from urllib.parse import parse_qs, urlsplit

PREFIX = "/api/v3.1"


def _tool(
    slug: str, toolkit: str, description: str, properties: dict[str, Any], required: list[str]
) -> dict[str, Any]:
    return {
        "slug": slug, "name": slug.replace("_", " ").title(), "description": description,
        "input_parameters": {"type": "object", "properties": properties, "required": required},
        "output_parameters": {}, "toolkit": {"slug": toolkit, "name": toolkit, "logo": ""},
        "version": "20260301_00", "available_versions": ["20260301_00"], "no_auth": toolkit == "composio_search",
        "scopes": [], "tags": [], "is_deprecated": False, "deprecated": {"toolkit": {"logo": ""}},
    }  # fmt: skip


TOOLS = [
    _tool("COMPOSIO_SEARCH_WEB", "composio_search", "Search the web and return the top results.",
          {"query": {"type": "string", "description": "What to search for"}}, ["query"]),
    _tool("HIGHLEVEL_SEARCH_CONTACTS", "highlevel", "Find contacts in the HighLevel CRM.",
          {"query": {"type": "string"}}, ["query"]),
    _tool("HIGHLEVEL_CREATE_OPPORTUNITY", "highlevel", "Create an opportunity in a HighLevel pipeline.",
          {"contact_id": {"type": "string"}, "name": {"type": "string"}, "value": {"type": "number"}},
          ["contact_id", "name"]),
]  # fmt: skip


class FakeComposio:
    def __init__(self, api_key: str = "composio-test-key") -> None:
        self.api_key = api_key
        self.keys = {api_key}  # the keys this fake Composio accepts
        self.requests: list[tuple[str, str, dict[str, list[str]], Any]] = []
        self.used_keys: list[str] = []
        self.accounts: dict[str, dict[str, Any]] = {}  # id -> account
        self.opportunities: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _send(self, status: int, payload: Any) -> None:
                body = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def _handle(self, method: str) -> None:
                parts = urlsplit(self.path)
                length = int(self.headers.get("content-length") or 0)
                raw = self.rfile.read(length) if length else b""
                body = json.loads(raw) if raw else None
                query = parse_qs(parts.query)
                with fake._lock:
                    fake.requests.append((method, parts.path, query, body))
                    fake.used_keys.append(self.headers.get("x-api-key") or "")
                if self.headers.get("x-api-key") not in fake.keys:
                    self._send(401, fake._unauthorized(self.headers.get("x-request-id") or uuid.uuid4().hex))
                    return
                status, payload = fake._answer(method, parts.path.removeprefix(PREFIX), query, body)
                self._send(status, payload)

            def do_GET(self) -> None:
                self._handle("GET")

            def do_POST(self) -> None:
                self._handle("POST")

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True, name="fake-composio")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def activate(self, user_id: str) -> None:
        with self._lock:
            for account in self.accounts.values():
                if account["user_id"] == user_id:
                    account["status"] = "ACTIVE"

    def _unauthorized(self, request_id: str) -> dict[str, Any]:
        """Composio's error object (docs.composio.dev/reference/errors) for a missing or unknown key."""
        return {
            "error": {
                "message": "Invalid API key. Please provide a valid API key in the x-api-key header.",
                "code": 401,
                "slug": "unauthorized",
                "status": 401,
                "request_id": request_id,
                "suggested_fix": "Copy the API key from your project's settings on the Composio dashboard.",
            }
        }

    def _page(self, items: list[Any]) -> dict[str, Any]:
        return {
            "items": items,
            "next_cursor": None,
            "total_items": len(items),
            "total_pages": 1,
            "current_page": 1,
        }

    def _active(self, user_id: str, toolkit: str) -> bool:
        return any(
            a["user_id"] == user_id and a["toolkit"]["slug"] == toolkit and a["status"] == "ACTIVE"
            for a in self.accounts.values()
        )

    def _answer(self, method: str, path: str, query: dict[str, list[str]], body: Any) -> tuple[int, Any]:
        def listed(name: str) -> list[str]:
            return [v for item in query.get(name, []) for v in item.split(",") if v]

        if method == "GET" and path == "/tools":
            kits = {k.lower() for k in listed("toolkit_slug")}
            return 200, self._page([t for t in TOOLS if not kits or t["toolkit"]["slug"] in kits])
        if method == "GET" and path.startswith("/tools/"):
            found = next((t for t in TOOLS if t["slug"] == path.split("/")[-1]), None)
            return (200, found) if found else (404, {"error": {"message": "Tool not found", "code": 404}})
        if method == "POST" and path.startswith("/tools/execute/"):
            slug, user = path.split("/")[-1], str((body or {}).get("user_id") or "")
            arguments = (body or {}).get("arguments") or {}
            if slug == "COMPOSIO_SEARCH_WEB":
                q = arguments.get("query", "")
                return 200, {
                    "data": {
                        "results": [
                            {
                                "title": f"About {q}",
                                "url": "https://example.com/a",
                                "snippet": f"{q} explained.",
                            }
                        ]
                    },
                    "error": None,
                    "successful": True,
                    "log_id": "l1",
                }
            if slug.startswith("HIGHLEVEL_"):
                if not self._active(user, "highlevel"):
                    return 200, {
                        "data": {},
                        "error": "No active HighLevel connection for this user.",
                        "successful": False,
                        "log_id": "l2",
                    }
                if slug == "HIGHLEVEL_SEARCH_CONTACTS":
                    return 200, {
                        "data": {
                            "contacts": [{"id": "c-7", "name": "Dana Díaz", "email": "dana@example.com"}]
                        },
                        "error": None,
                        "successful": True,
                        "log_id": "l3",
                    }
                with self._lock:
                    self.opportunities.append({"user_id": user, **arguments})
                return 200, {
                    "data": {"opportunity": {"id": f"o-{len(self.opportunities)}", **arguments}},
                    "error": None,
                    "successful": True,
                    "log_id": "l4",
                }
            return 404, {"error": {"message": "Tool not found", "code": 404}}
        if method == "GET" and path == "/connected_accounts":
            users, kits = set(listed("user_ids")), set(listed("toolkit_slugs"))
            items = [
                a for a in self.accounts.values()
                if (not users or a["user_id"] in users) and (not kits or a["toolkit"]["slug"] in kits)
            ]  # fmt: skip
            return 200, self._page(items)
        if method == "GET" and path == "/auth_configs":
            kit = (listed("toolkit_slug") or ["highlevel"])[0]
            return 200, self._page(
                [
                    {
                        "id": f"ac_{kit}",
                        "name": kit,
                        "toolkit": {"slug": kit, "logo": ""},
                        "created_at": "2026-01-01T00:00:00Z",
                        "status": "ENABLED",
                        "no_of_connections": 0,
                        "auth_scheme": "OAUTH2",
                        "is_composio_managed": True,
                        "type": "default",
                        "uuid": f"ac_{kit}",
                    }
                ]
            )
        if method == "POST" and path == "/connected_accounts/link":
            account_id = f"ca_{uuid.uuid4().hex[:8]}"
            kit = str((body or {}).get("auth_config_id", "ac_highlevel")).removeprefix("ac_")
            with self._lock:
                self.accounts[account_id] = {
                    "id": account_id, "user_id": body["user_id"], "status": "INITIATED", "status_reason": None,
                    "is_disabled": False, "created_at": "2026-01-01T00:00:00Z", "updated_at": "2026-01-01T00:00:00Z",
                    "toolkit": {"slug": kit}, "auth_config": {"id": body["auth_config_id"], "is_composio_managed": True, "is_disabled": False},
                    "data": {}, "state": {"authScheme": "OAUTH2", "val": {"status": "INITIATED"}},
                }  # fmt: skip
            return 201, {
                "connected_account_id": account_id,
                "redirect_url": f"https://connect.example.com/{account_id}",
                "link_token": "lt",
                "expires_at": "2027-01-01T00:00:00Z",
            }
        return 404, {"error": {"message": f"No route {method} {path}", "code": 404}}

    def start(self) -> Self:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
