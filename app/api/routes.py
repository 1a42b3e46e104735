"""HTTP routes beside the Reflex app: health, the session cookie hand-off, log-out, OAuth redirects and
callbacks (sign-in routes live in `app.api.auth_routes`, cookies and the binding middleware in
`app.api.cookies`). `build_api()` is what `app/app.py` hands to Reflex.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from sqlalchemy import text
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from app.api.agent_avatars import ROUTES as AVATAR_ROUTES
from app.api.auth_routes import complete_login, logout, oauth_callback, oauth_start
from app.api.chat_files import ROUTES as CHAT_FILE_ROUTES
from app.api.cookies import LoginBindingMiddleware
from app.api.files import ROUTES as FILE_ROUTES
from services.db import global_session

log = logging.getLogger("solo.api")


async def health(_: Request) -> Response:
    started = datetime.now(UTC)
    try:
        async with global_session() as session:
            await session.execute(text("SELECT 1"))
        ms = (datetime.now(UTC) - started).total_seconds() * 1000
        return JSONResponse({"status": "ok", "database": "ok", "database_ms": round(ms, 1)})
    except Exception as exc:  # report, never raise: this is what monitors read. The detail stays in the log.
        log.warning("health check: database unavailable: %r", exc)
        return JSONResponse({"status": "error", "database": "unavailable"}, 503)


def build_api() -> Starlette:
    """Our routes; Reflex mounts its own app (events, frontend) inside this one, so the login-binding
    middleware also sees the page loads."""
    return Starlette(
        routes=[
            Route("/health", health, methods=["GET"]),
            Route("/auth/complete", complete_login, methods=["GET"]),
            Route("/auth/logout", logout, methods=["GET", "POST"]),  # GET answers 405 itself
            Route("/auth/oauth/{provider}/start", oauth_start, methods=["GET"]),
            Route("/auth/oauth/{provider}/callback", oauth_callback, methods=["GET"]),
            *CHAT_FILE_ROUTES,
            *FILE_ROUTES,
            *AVATAR_ROUTES,
        ],
        middleware=[Middleware(LoginBindingMiddleware)],
    )
