"""Who sent a request: forwarded headers count only behind a trusted proxy, and only its own entry."""

from __future__ import annotations

import pytest

from services import web
from services.config import get_settings


@pytest.fixture
def proxy(monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    def configure(trust: bool, hops: int = 1) -> None:
        monkeypatch.setenv("SOLO_TRUST_PROXY", "true" if trust else "false")
        monkeypatch.setenv("SOLO_TRUSTED_PROXY_HOPS", str(hops))
        get_settings.cache_clear()

    return configure


def test_forwarded_for_is_ignored_without_a_trusted_proxy(proxy) -> None:
    proxy(False)
    assert web.client_ip("198.51.100.1", {"x-forwarded-for": "1.2.3.4"}) == "198.51.100.1"
    assert web.request_host("acme.localhost", {"x-forwarded-host": "evil.test"}) == "acme.localhost"
    assert web.request_scheme("http", {"x-forwarded-proto": "https"}) == "http"


def test_the_address_the_proxy_appended_is_used_not_the_clients(proxy) -> None:
    proxy(True)
    # The client sent "X-Forwarded-For: 6.6.6.6"; the proxy appended the real peer.
    headers = {"x-forwarded-for": "6.6.6.6, 203.0.113.5"}
    assert web.client_ip("10.0.0.2", headers) == "203.0.113.5"
    assert web.request_host("internal", {"x-forwarded-host": "evil.test, acme.example.com"}) == (
        "acme.example.com"
    )
    assert web.request_scheme("http", {"x-forwarded-proto": "https"}) == "https"


def test_two_proxy_hops_count_from_the_right(proxy) -> None:
    proxy(True, hops=2)
    headers = {"x-forwarded-for": "6.6.6.6, 203.0.113.5, 10.0.0.9"}
    assert web.client_ip("10.0.0.2", headers) == "203.0.113.5"


def test_stored_values_fit_their_columns(proxy) -> None:
    proxy(True)
    assert len(web.client_ip("p", {"x-forwarded-for": "x" * 500})) == web.IP_MAX
    assert len(web.user_agent("A" * 5000)) == web.USER_AGENT_MAX


def test_same_origin_compares_host_names(proxy) -> None:
    proxy(False)
    assert web.same_origin("http://acme.localhost:3000", "acme.localhost:3000")
    assert web.same_origin("https://Coach.Example.com", "coach.example.com")
    assert not web.same_origin("http://evil.example", "acme.localhost:3000")
    assert not web.same_origin("http://acme.localhost.evil.example", "acme.localhost")
    assert not web.same_origin("null", "acme.localhost")
    assert not web.same_origin("", "acme.localhost")
    assert web.websocket_origin_allowed("http://acme.localhost:3000", {"HTTP_HOST": "acme.localhost:3000"})
    assert not web.websocket_origin_allowed("http://evil.example", {"HTTP_HOST": "acme.localhost:3000"})
