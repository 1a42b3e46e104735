"""Outbound requests to addresses a tenant chose (its own model providers; later MCP servers, webhooks)
must reach the public internet only: never loopback, private ranges, link-local (cloud metadata at
169.254.169.254), or anything else that is not globally routable.

Two checks, because DNS can change between them (rebinding): `check_public_url` when the address is saved,
and `PublicOnlyTransport` at every connection, which resolves the host itself, refuses any non-public
answer, and connects to the address it checked (the TLS name stays the host name). Addresses the operator
configures (environment, `LLM_ENDPOINTS`) do not go through this: they may be private on purpose.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import socket
from functools import lru_cache
from urllib.parse import urlsplit

import httpx2

from services.config import get_settings
from services.errors import ValidationError

log = logging.getLogger(__name__)

NOT_PUBLIC = "not a public address"


class UnsafeAddress(httpx2.ConnectError):
    """A connection was refused because the host resolves to a non-public address."""


@lru_cache(maxsize=8)
def _allowed(setting: str) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    nets = []
    for item in setting.split(","):
        if item.strip():
            try:
                nets.append(ipaddress.ip_network(item.strip(), strict=False))
            except ValueError:
                log.error("SOLO_OUTBOUND_ALLOW: %r is not an IP address or network; ignored", item)
    return tuple(nets)


def is_public_ip(value: str) -> bool:
    """Globally routable, or in the operator's SOLO_OUTBOUND_ALLOW list."""
    try:
        ip = ipaddress.ip_address(value.split("%")[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if any(ip in net for net in _allowed(get_settings().solo_outbound_allow)):
        return True
    return ip.is_global and not ip.is_multicast


async def resolve_public(host: str, port: int) -> list[str]:
    """Every address `host` resolves to, when all of them are public; else UnsafeAddress."""
    host = host.strip("[]")
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as exc:
        raise httpx2.ConnectError(f"The host {host} could not be resolved.") from exc
    addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
    bad = [a for a in addresses if not is_public_ip(a)]
    if not addresses or bad:
        raise UnsafeAddress(f"{host} resolves to {', '.join(bad) or 'nothing'}: {NOT_PUBLIC}.")
    return addresses


async def check_public_url(url: str) -> None:
    """For a URL a tenant saves: http(s), a host, and only public addresses behind it."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValidationError("The base URL must start with http:// or https:// and name a host.")
    if parts.username or parts.password:
        raise ValidationError("Put credentials in the API key field, not in the URL.")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as exc:
        raise ValidationError("The base URL has an invalid port.") from exc
    try:
        await resolve_public(parts.hostname, port)
    except UnsafeAddress as exc:
        raise ValidationError(
            f"The base URL must point at a public server: {exc} Private, loopback and link-local "
            "addresses are only for providers the server operator configures."
        ) from exc
    except httpx2.ConnectError as exc:
        raise ValidationError(f"{exc} Check the base URL.") from exc


class PublicOnlyTransport(httpx2.AsyncBaseTransport):
    """An httpx transport that connects only to public addresses, checked at connect time."""

    def __init__(self, inner: httpx2.AsyncBaseTransport | None = None) -> None:
        self._inner = inner or httpx2.AsyncHTTPTransport()

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        url = request.url
        port = url.port or (443 if url.scheme == "https" else 80)
        addresses = await resolve_public(url.host, port)
        if url.host.strip("[]") != addresses[0]:
            # Connect to the address just checked, not to whatever a second lookup would return.
            if url.scheme == "https":
                request.extensions = {**request.extensions, "sni_hostname": url.host}
            request.url = url.copy_with(host=addresses[0])
        return await self._inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self._inner.aclose()
