"""Our cookies (names from `state.request.cookie_name`), and the middleware that gives every browser a
login-binding cookie before it can submit a sign-in form.

The sign-in forms are websocket events: the handler issues a login ticket bound to the binding cookie that
the websocket handshake carried, and `/auth/complete` redeems it only with that same cookie. So the cookie
must exist before the form is submitted: the middleware adds it to any HTTP response (page loads included,
since in prod Reflex serves the frontend from this same ASGI app) of a request that came without one.
"""

from __future__ import annotations

from datetime import UTC, datetime

from starlette.datastructures import MutableHeaders
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.auth.secrets import new_token
from services.config import get_settings
from state.request import (
    LOGIN_BINDING_COOKIE,
    OAUTH_BINDING_COOKIE,
    cookie_name,
    parse_cookie,
    session_cookie_name,
)

LOGIN_BINDING_MAX_AGE = 12 * 3600  # a login page left open longer than this asks to be reloaded
OAUTH_BINDING_MAX_AGE = 10 * 60  # as long as an OAuth state lives


def _secure() -> bool:
    return get_settings().solo_secure_cookies


def _cookie_header(name: str, value: str, max_age: int) -> str:
    """One Set-Cookie value: HttpOnly, SameSite=Lax, Path=/, never a Domain (required by `__Host-`)."""
    parts = [f"{name}={value}", "Path=/", f"Max-Age={max_age}", "HttpOnly", "SameSite=Lax"]
    if _secure():
        parts.append("Secure")
    return "; ".join(parts)


def set_session_cookie(response: Response, token: str, expires: datetime) -> None:
    max_age = max(0, int((expires - datetime.now(UTC)).total_seconds()))
    response.headers.append("set-cookie", _cookie_header(session_cookie_name(), token, max_age))


def clear_cookie(response: Response, base: str) -> None:
    response.headers.append("set-cookie", _cookie_header(cookie_name(base), "", 0))


def clear_session_cookie(response: Response) -> None:
    response.headers.append("set-cookie", _cookie_header(session_cookie_name(), "", 0))


def set_oauth_binding(response: Response, value: str) -> None:
    response.headers.append(
        "set-cookie", _cookie_header(cookie_name(OAUTH_BINDING_COOKIE), value, OAUTH_BINDING_MAX_AGE)
    )


def request_cookie(cookie_header: str, base: str) -> str:
    return parse_cookie(cookie_header, cookie_name(base))


class LoginBindingMiddleware:
    """Adds the login-binding cookie to HTTP responses of requests that did not carry one.

    The value is random and new; it is never taken from the request, so nobody can choose another
    browser's binding. Websocket traffic passes through untouched."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        cookie = b"; ".join(v for k, v in scope.get("headers", []) if k == b"cookie").decode("latin-1")
        name = cookie_name(LOGIN_BINDING_COOKIE)
        if parse_cookie(cookie, name):
            await self.app(scope, receive, send)
            return

        async def send_with_cookie(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                already = any(v.startswith(f"{name}=") for v in headers.getlist("set-cookie"))
                if not already:
                    headers.append("set-cookie", _cookie_header(name, new_token(), LOGIN_BINDING_MAX_AGE))
            await send(message)

        await self.app(scope, receive, send_with_cookie)
