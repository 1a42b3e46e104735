"""What a Reflex event tells us about the browser that sent it: host, session cookie, IP, user agent."""

from __future__ import annotations

from http.cookies import CookieError, SimpleCookie
from typing import TYPE_CHECKING

from services.config import get_settings

if TYPE_CHECKING:
    import reflex as rx

SESSION_COOKIE = "solo_session"


def parse_cookie(header: str, name: str = SESSION_COOKIE) -> str:
    if not header:
        return ""
    jar: SimpleCookie = SimpleCookie()
    try:
        jar.load(header)
    except CookieError:
        return ""
    morsel = jar.get(name)
    return morsel.value if morsel else ""


def host(state: rx.State) -> str:
    headers = state.router.headers
    if get_settings().solo_trust_proxy:
        forwarded = headers.raw_headers.get("x-forwarded-host", "")
        if forwarded:
            return forwarded.split(",")[0].strip()
    return headers.host


def client_ip(state: rx.State) -> str:
    if get_settings().solo_trust_proxy:
        forwarded = state.router.headers.raw_headers.get("x-forwarded-for", "")
        if forwarded:
            return forwarded.split(",")[0].strip()
    return state.router.session.client_ip


def session_token(state: rx.State) -> str:
    return parse_cookie(state.router.headers.cookie)


def user_agent(state: rx.State) -> str:
    return state.router.headers.user_agent


def origin(state: rx.State) -> str:
    """The page's origin (scheme://host[:port]) for links in emails."""
    o = state.router.headers.origin
    if o:
        return o
    return f"http://{host(state)}"


def path_tail(state: rx.State, prefix: str) -> str:
    """The path segment after `prefix` ("/c/" -> the conversation id of /c/<id>), or ""."""
    path = state.router.url.path or ""
    if not path.startswith(prefix):
        return ""
    return path[len(prefix) :].strip("/").split("/")[0]
