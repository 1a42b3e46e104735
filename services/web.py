"""Who sent a request, worked out from its headers the same way for Reflex events and HTTP routes.

Behind a trusted reverse proxy (`SOLO_TRUST_PROXY`), the client's address is the one the proxy appended to
`X-Forwarded-For`: counted `SOLO_TRUSTED_PROXY_HOPS` entries from the right. Entries further left were
written by the client and prove nothing. Without a trusted proxy, forwarded headers are ignored entirely.
"""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import urlsplit

from services.config import get_settings

IP_MAX = 64  # column sizes of the tables that store them
USER_AGENT_MAX = 500


def _last(value: str) -> str:
    """The right-most entry of a comma-separated header: the one the nearest proxy wrote."""
    return value.rsplit(",", 1)[-1].strip()


def client_ip(peer: str, headers: Mapping[str, str]) -> str:
    s = get_settings()
    ip = peer
    if s.solo_trust_proxy:
        hops = [h.strip() for h in headers.get("x-forwarded-for", "").split(",") if h.strip()]
        n = max(1, s.solo_trusted_proxy_hops)
        if len(hops) >= n:
            ip = hops[-n]
        elif hops:
            ip = hops[0]
    return ip[:IP_MAX]


def request_host(host: str, headers: Mapping[str, str]) -> str:
    if get_settings().solo_trust_proxy:
        forwarded = _last(headers.get("x-forwarded-host", ""))
        if forwarded:
            return forwarded
    return host


def request_scheme(scheme: str, headers: Mapping[str, str]) -> str:
    if get_settings().solo_trust_proxy:
        forwarded = _last(headers.get("x-forwarded-proto", "")).lower()
        if forwarded in ("http", "https"):
            return forwarded
    return scheme


def same_origin(origin: str, host: str) -> bool:
    """Whether a browser's `Origin` names the host the request was sent to (ports aside: Reflex's dev mode
    serves the page and the backend on two ports of one host). Pages of another site fail this."""
    if not origin or origin == "null":
        return False
    parts = urlsplit(origin)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return False
    return parts.hostname.lower().rstrip(".") == _hostname(host)


def _hostname(host: str) -> str:
    host = host.strip().lower()
    if host.startswith("["):
        return host[1:].split("]")[0]
    return host.split(":")[0].rstrip(".")


def websocket_origin_allowed(origin: str | None, environ: dict[str, str]) -> bool:
    """For Reflex's Socket.IO server: accept a connection only from a page of the host it connects to,
    which (through the host) is the tenant's own page. A foreign page cannot drive the app."""
    if not origin:
        return True  # not a browser (browsers always send Origin on websockets); cookies still required
    headers = {"x-forwarded-host": environ.get("HTTP_X_FORWARDED_HOST", "")}
    return same_origin(origin, request_host(environ.get("HTTP_HOST", ""), headers))


def user_agent(value: str) -> str:
    return value[:USER_AGENT_MAX]


def public_scheme_and_port() -> tuple[str, str]:
    """Scheme and `:port` suffix of the app's public address (`SOLO_PUBLIC_URL`), for links the server
    builds itself. Never from request headers: a foreign page can send any Origin or Referer."""
    parts = urlsplit(get_settings().public_url())
    scheme = parts.scheme or "http"
    port = parts.port
    default = 443 if scheme == "https" else 80
    return scheme, f":{port}" if port and port != default else ""


def safe_next(value: str | None) -> str:
    """Only same-site relative paths: no open redirects."""
    if (
        value
        and value.startswith("/")
        and not value.startswith("//")
        and "\\" not in value
        and not any(ord(c) < 0x20 or ord(c) == 0x7F for c in value)  # no header splitting, no tab tricks
    ):
        return value
    return "/"
