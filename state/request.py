"""What a Reflex event tells us about the browser that sent it: host, session cookie, IP, user agent."""

from __future__ import annotations

from collections.abc import Mapping
from http.cookies import CookieError, SimpleCookie
from typing import TYPE_CHECKING

from services import web

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


def _headers(state: rx.State) -> Mapping[str, str]:
    return state.router.headers.raw_headers


def host(state: rx.State) -> str:
    return web.request_host(state.router.headers.host, _headers(state))


def client_ip(state: rx.State) -> str:
    return web.client_ip(state.router.session.client_ip, _headers(state))


def session_token(state: rx.State) -> str:
    return parse_cookie(state.router.headers.cookie)


def user_agent(state: rx.State) -> str:
    return web.user_agent(state.router.headers.user_agent)


def path_tail(state: rx.State, prefix: str) -> str:
    """The path segment after `prefix` ("/c/" -> the conversation id of /c/<id>), or ""."""
    path = state.router.url.path or ""
    if not path.startswith(prefix):
        return ""
    return path[len(prefix) :].strip("/").split("/")[0]
