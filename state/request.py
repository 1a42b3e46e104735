"""What a Reflex event tells us about the browser that sent it: host, session cookie, IP, user agent."""

from __future__ import annotations

from collections.abc import Mapping
from http.cookies import CookieError, SimpleCookie
from typing import TYPE_CHECKING

from services import web
from services.config import get_settings

if TYPE_CHECKING:
    import reflex as rx

SESSION_COOKIE = "solo_session"  # the session cookie's base name; `session_cookie_name()` is the one sent
LOGIN_BINDING_COOKIE = "solo_login"  # ties a login ticket to the browser whose form asked for it
OAUTH_BINDING_COOKIE = "solo_oauth"  # ties an OAuth `state` to the browser that started the flow


def cookie_name(base: str) -> str:
    """The one place that names our cookies: with SOLO_SECURE_COOKIES the `__Host-` prefix (the browser then
    insists on Secure, Path=/ and no Domain, so no sibling subdomain can plant or shadow it)."""
    return f"__Host-{base}" if get_settings().solo_secure_cookies else base


def session_cookie_name() -> str:
    return cookie_name(SESSION_COOKIE)


def parse_cookie(header: str, name: str = "") -> str:
    """The value of cookie `name` (default: the session cookie) in a Cookie header, or ""."""
    name = name or session_cookie_name()
    if not header:
        return ""
    jar: SimpleCookie = SimpleCookie()
    try:
        jar.load(header)
    except CookieError:
        return ""
    morsel = jar.get(name)
    return morsel.value if morsel else ""


def _headers(state: rx.State) -> Mapping[str, str]:
    return state.router.headers.raw_headers


def host(state: rx.State) -> str:
    return web.request_host(state.router.headers.host, _headers(state))


def client_ip(state: rx.State) -> str:
    return web.client_ip(state.router.session.client_ip, _headers(state))


def session_token(state: rx.State) -> str:
    return parse_cookie(state.router.headers.cookie)


def login_binding(state: rx.State) -> str:
    """The browser's login-binding cookie as its websocket handshake carried it ("" when it had none)."""
    return parse_cookie(state.router.headers.cookie, cookie_name(LOGIN_BINDING_COOKIE))


def user_agent(state: rx.State) -> str:
    return web.user_agent(state.router.headers.user_agent)


def path_tail(state: rx.State, prefix: str) -> str:
    """The path segment after `prefix` ("/c/" -> the conversation id of /c/<id>), or ""."""
    path = state.router.url.path or ""
    if not path.startswith(prefix):
        return ""
    return path[len(prefix) :].strip("/").split("/")[0]
