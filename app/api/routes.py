"""HTTP routes beside the Reflex app: health, the session cookie hand-off, OAuth redirects and callbacks.

Every route resolves the tenant from the request's host itself; nothing trusts the browser's word for it.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from urllib.parse import quote

from sqlalchemy import text
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route

from app.api.chat_files import ROUTES as CHAT_FILE_ROUTES
from services import tenants, web
from services.auth import accounts, oauth
from services.config import get_settings
from services.context import TenantCtx
from services.db import global_session
from services.errors import ServiceError
from state.request import SESSION_COOKIE, parse_cookie

log = logging.getLogger("solo.api")


def _host(request: Request) -> str:
    return web.request_host(request.headers.get("host", ""), request.headers)


def _ip(request: Request) -> str:
    return web.client_ip(request.client.host if request.client else "", request.headers)


async def _tenant(request: Request) -> TenantCtx | None:
    found = await tenants.lookup_host(_host(request))
    if found is None:
        return None
    return TenantCtx(
        tenant_id=found.id, ip=_ip(request), user_agent=web.user_agent(request.headers.get("user-agent", ""))
    )


def _set_session_cookie(response: Response, token: str, expires: datetime) -> None:
    max_age = max(0, int((expires - datetime.now(UTC)).total_seconds()))
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=max_age,
        httponly=True,
        samesite="lax",
        secure=get_settings().solo_secure_cookies,
        path="/",
    )


def _safe_next(value: str | None) -> str:
    """Only same-site relative paths: no open redirects."""
    if value and value.startswith("/") and not value.startswith("//") and "\\" not in value:
        return value
    return "/"


def _problem(message: str, status: int = 400) -> Response:
    return PlainTextResponse(message, status_code=status)


async def health(_: Request) -> Response:
    started = datetime.now(UTC)
    try:
        async with global_session() as session:
            await session.execute(text("SELECT 1"))
        ms = (datetime.now(UTC) - started).total_seconds() * 1000
        return JSONResponse({"status": "ok", "database": "ok", "database_ms": round(ms, 1)})
    except Exception as exc:  # report, never raise: this is what monitors read
        log.warning("health check: database unavailable: %s", exc)
        return JSONResponse({"status": "error", "database": "unavailable", "detail": str(exc)[:200]}, 503)


async def complete_login(request: Request) -> Response:
    """Swap a 60-second login ticket (from the sign-in form) for the HttpOnly session cookie."""
    tctx = await _tenant(request)
    if tctx is None:
        return _problem("No such workspace.", 404)
    try:
        token, expires = await accounts.redeem_login_ticket(tctx, request.query_params.get("ticket", ""))
    except ServiceError as exc:
        return RedirectResponse(f"/login?error={quote(str(exc))}", status_code=303)
    response = RedirectResponse(_safe_next(request.query_params.get("next")), status_code=303)
    _set_session_cookie(response, token, expires)
    return response


async def logout(request: Request) -> Response:
    """Clear the cookie (the session row was already revoked by the handler that sent us here)."""
    tctx = await _tenant(request)
    if tctx is not None:
        ctx = await accounts.authenticate(tctx.tenant_id, parse_cookie(request.headers.get("cookie", "")))
        if ctx is not None:
            await accounts.log_out(ctx)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


def _callback_url(request: Request, provider: str) -> str:
    scheme = web.request_scheme(request.url.scheme, request.headers)
    return f"{scheme}://{_host(request)}/auth/oauth/{provider}/callback"


async def oauth_start(request: Request) -> Response:
    tctx = await _tenant(request)
    if tctx is None:
        return _problem("No such workspace.", 404)
    provider = request.path_params["provider"]
    try:
        url = await oauth.start(tctx, provider, _callback_url(request, provider))
    except ServiceError as exc:
        return _problem(str(exc), 404)
    except Exception as exc:  # the provider's discovery document could not be read
        log.warning("oauth start failed for %s: %s", provider, exc)
        return _problem(f"Could not reach the sign-in provider ({exc}). Try again later.", 502)
    return RedirectResponse(url, status_code=302)


async def oauth_callback(request: Request) -> Response:
    tctx = await _tenant(request)
    if tctx is None:
        return _problem("No such workspace.", 404)
    if request.query_params.get("error"):
        desc = request.query_params.get("error_description") or request.query_params["error"]
        return _problem(f"Sign-in was cancelled or refused by the provider: {desc}", 400)
    try:
        token, expires = await oauth.finish(
            tctx,
            request.path_params["provider"],
            code=request.query_params.get("code", ""),
            state=request.query_params.get("state", ""),
        )
    except ServiceError as exc:
        return _problem(str(exc), 400)
    response = RedirectResponse("/", status_code=303)
    _set_session_cookie(response, token, expires)
    return response


def build_api() -> Starlette:
    return Starlette(
        routes=[
            Route("/health", health, methods=["GET"]),
            Route("/auth/complete", complete_login, methods=["GET"]),
            Route("/auth/logout", logout, methods=["GET", "POST"]),
            Route("/auth/oauth/{provider}/start", oauth_start, methods=["GET"]),
            Route("/auth/oauth/{provider}/callback", oauth_callback, methods=["GET"]),
            *CHAT_FILE_ROUTES,
        ]
    )
