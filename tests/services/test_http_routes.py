"""The sign-in HTTP routes (`build_api()`), driven over httpx's ASGI transport against the real database
and the loopback OAuth provider: login-ticket binding, cookies, log-out, health, OAuth start/callback."""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator
from urllib.parse import parse_qs, unquote, urlsplit

import httpx
import pytest

from app.api.routes import build_api
from services.auth import accounts, oauth
from services.auth.accounts import authenticate, start_session
from services.db import tenant_session
from state.request import parse_cookie, session_cookie_name
from tests.conftest import password_user
from tests.fakes.oauth_provider import FakeOAuthProvider, OidcIdentity
from tests.services import oauth_support
from tests.services.oauth_support import PASSWORD, links

provider = oauth_support.provider  # the loopback provider fixture


class Browser:
    """A cookie jar of our own, so each test says exactly which cookies a request carries."""

    def __init__(self, host: str, cookies: dict[str, str] | None = None) -> None:
        self.host = host
        self.cookies = dict(cookies or {})

    async def request(self, method: str, path: str, **headers: str) -> httpx.Response:
        cookie = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        transport = httpx.ASGITransport(app=build_api(), client=("203.0.113.9", 5555))
        async with httpx.AsyncClient(transport=transport, base_url=f"http://{self.host}") as client:
            sent = {**({"cookie": cookie} if cookie else {}), **headers}
            response = await client.request(method, path, headers=sent)
        for raw in response.headers.get_list("set-cookie"):
            name, _, rest = raw.partition("=")
            value = rest.split(";")[0]
            if "Max-Age=0" in raw:
                self.cookies.pop(name, None)
            else:
                self.cookies[name] = value
        return response


def set_cookies(response: httpx.Response) -> dict[str, str]:
    return {raw.split("=", 1)[0]: raw for raw in response.headers.get_list("set-cookie")}


@pytest.fixture
def host(tenant) -> str:  # type: ignore[no-untyped-def]
    return f"{tenant.slug}.localhost"


@pytest.fixture
async def member(tctx) -> AsyncIterator[object]:  # type: ignore[no-untyped-def]
    yield await password_user(tctx, email="member@example.com", password=PASSWORD)


async def test_every_browser_gets_a_login_binding_cookie(host: str) -> None:
    browser = Browser(host)
    first = await browser.request("GET", "/health")
    cookie = set_cookies(first)["solo_login"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Path=/" in cookie and "Domain" not in cookie
    again = await browser.request("GET", "/health")  # it has one now: not replaced
    assert "solo_login" not in set_cookies(again)


async def test_login_ticket_redeems_only_in_the_browser_that_asked(tctx, host: str, member) -> None:  # type: ignore[no-untyped-def]
    a, b = Browser(host), Browser(host)
    await a.request("GET", "/login")  # page loads give each browser its binding cookie
    await b.request("GET", "/login")
    assert a.cookies["solo_login"] != b.cookies["solo_login"]
    ticket = await accounts.issue_login_ticket(tctx, member.id, binding=a.cookies["solo_login"])

    stolen = await b.request("GET", f"/auth/complete?ticket={ticket}")
    assert stolen.status_code == 303 and stolen.headers["location"].startswith("/login?error=")
    assert "solo_session" not in b.cookies

    bare = Browser(host)
    none = await bare.request("GET", f"/auth/complete?ticket={ticket}")
    assert "sign-in cookie" in unquote(none.headers["location"])
    assert "solo_session" not in bare.cookies

    ok = await a.request("GET", f"/auth/complete?ticket={ticket}&next=/settings")
    assert ok.status_code == 303 and ok.headers["location"] == "/settings"
    ctx = await authenticate(tctx.tenant_id, a.cookies["solo_session"])
    assert ctx is not None and ctx.user_id == member.id

    again = await a.request("GET", f"/auth/complete?ticket={ticket}")  # single use
    assert again.headers["location"].startswith("/login?error=")


@pytest.mark.parametrize(
    "target", ["//evil.example/x", "https://evil.example/", "/\\evil.example", "/ok%0D%0AX:%20y"]
)
async def test_complete_never_redirects_off_site(tctx, host: str, member, target: str) -> None:  # type: ignore[no-untyped-def]
    browser = Browser(host)
    await browser.request("GET", "/login")
    ticket = await accounts.issue_login_ticket(tctx, member.id, binding=browser.cookies["solo_login"])
    response = await browser.request("GET", f"/auth/complete?ticket={ticket}&next={target}")
    assert response.headers["location"] == "/"


async def test_secure_cookies_use_the_host_prefix(tctx, host: str, member, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from services.config import get_settings

    monkeypatch.setenv("SOLO_SECURE_COOKIES", "true")
    get_settings.cache_clear()
    assert session_cookie_name() == "__Host-solo_session"
    browser = Browser(host)
    await browser.request("GET", "/login")
    binding = browser.cookies["__Host-solo_login"]
    ticket = await accounts.issue_login_ticket(tctx, member.id, binding=binding)
    response = await browser.request("GET", f"/auth/complete?ticket={ticket}")
    cookie = set_cookies(response)["__Host-solo_session"]
    assert "Secure" in cookie and "Path=/" in cookie and "Domain" not in cookie and "HttpOnly" in cookie
    token = browser.cookies["__Host-solo_session"]
    assert parse_cookie(f"__Host-solo_session={token}; solo_session=planted") == token
    assert await authenticate(tctx.tenant_id, token) is not None

    monkeypatch.delenv("SOLO_SECURE_COOKIES")
    get_settings.cache_clear()
    assert session_cookie_name() == "solo_session"


async def signed_in(tctx, host: str, user_id) -> tuple[Browser, str]:  # type: ignore[no-untyped-def]
    async with tenant_session(tctx.tenant_id) as session:
        token, _ = await start_session(session, tctx, user_id)
    return Browser(host, {"solo_session": token}), token


async def test_logout_is_post_only_and_same_origin(tctx, host: str, member) -> None:  # type: ignore[no-untyped-def]
    browser, token = await signed_in(tctx, host, member.id)
    assert (await browser.request("GET", "/auth/logout")).status_code == 405
    foreign = await browser.request("POST", "/auth/logout", origin="https://evil.example")
    assert foreign.status_code == 403
    cross = await browser.request("POST", "/auth/logout", **{"sec-fetch-site": "cross-site"})
    assert cross.status_code == 403
    sibling = await browser.request("POST", "/auth/logout", **{"sec-fetch-site": "same-site"})
    assert sibling.status_code == 403  # another tenant's subdomain is another origin
    assert await authenticate(tctx.tenant_id, token) is not None  # nothing happened

    ok = await browser.request(
        "POST", "/auth/logout", origin=f"http://{host}", **{"sec-fetch-site": "same-origin"}
    )
    assert ok.status_code == 303 and ok.headers["location"] == "/login"
    assert "Max-Age=0" in set_cookies(ok)["solo_session"]
    assert await authenticate(tctx.tenant_id, token) is None


async def test_health_hides_database_errors(host: str, monkeypatch, caplog: pytest.LogCaptureFixture) -> None:
    from services.config import get_settings

    healthy = await Browser(host).request("GET", "/health")
    assert healthy.status_code == 200 and healthy.json()["database"] == "ok"
    caplog.set_level(logging.WARNING, logger="solo.api")
    url = get_settings().app_database_url
    missing = re.sub(r"/solo_test_\d+", "/solo_no_such_database", url)
    assert missing != url
    monkeypatch.setenv("APP_DATABASE_URL", missing)
    get_settings.cache_clear()
    response = await Browser(host).request("GET", "/health")
    assert response.status_code == 503
    assert response.json() == {"status": "error", "database": "unavailable"}
    assert "solo_no_such_database" in caplog.text and "solo_no_such_database" not in response.text


async def test_oauth_round_trip_over_http(tctx, owner, host: str, provider: FakeOAuthProvider) -> None:
    provider.identity = OidcIdentity(sub="g-http", email="http@example.com", email_verified=True)
    browser = Browser(host)
    start = await browser.request("GET", "/auth/oauth/google/start")
    assert start.status_code == 302 and start.headers["location"].startswith(provider.url)
    cookie = set_cookies(start)["solo_oauth"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Max-Age=600" in cookie
    async with httpx.AsyncClient() as client:
        back = (await client.get(start.headers["location"])).headers["location"]
    callback = urlsplit(back)
    assert callback.path == "/auth/oauth/google/callback"

    # The same callback in another browser (login CSRF): refused, nobody signed in.
    other = Browser(host)
    refused = await other.request("GET", f"{callback.path}?{callback.query}")
    assert refused.status_code == 400 and "another browser" in refused.text
    assert "solo_session" not in other.cookies

    # A fresh flow, finished in the browser that started it.
    start = await browser.request("GET", "/auth/oauth/google/start")
    async with httpx.AsyncClient() as client:
        back = (await client.get(start.headers["location"])).headers["location"]
    callback = urlsplit(back)
    done = await browser.request("GET", f"{callback.path}?{callback.query}")
    assert done.status_code == 303 and done.headers["location"] == "/"
    assert "solo_oauth" not in browser.cookies  # used up
    assert await authenticate(tctx.tenant_id, browser.cookies["solo_session"]) is not None


async def test_oauth_provider_errors_are_not_echoed(host: str, provider: FakeOAuthProvider) -> None:
    browser = Browser(host)
    response = await browser.request(
        "GET", "/auth/oauth/google/callback?error=server_error&error_description=Call+555-0100+now"
    )
    assert response.status_code == 400 and "555" not in response.text and "server_error" not in response.text
    cancelled = await browser.request("GET", "/auth/oauth/google/callback?error=access_denied")
    assert "cancelled" in cancelled.text
    for path in ("/auth/oauth/Call-555-0100/start", "/auth/oauth/Call-555-0100/callback?code=x&state=y"):
        unknown = await browser.request("GET", path)
        assert unknown.status_code == 404 and "555" not in unknown.text and "not configured" in unknown.text
    provider.stop()
    down = await browser.request("GET", "/auth/oauth/google/start")
    assert down.status_code == 502 and "127.0.0.1" not in down.text and "Connect" not in down.text


async def test_link_mode_over_http(tctx, host: str, member, provider: FakeOAuthProvider) -> None:  # type: ignore[no-untyped-def]
    provider.identity = OidcIdentity(sub="g-link", email="member@example.com", email_verified=True)
    anonymous = await Browser(host).request("GET", "/auth/oauth/google/start?mode=link")
    assert anonymous.status_code == 303 and anonymous.headers["location"].startswith("/login?error=")
    browser, _ = await signed_in(tctx, host, member.id)
    foreign = await browser.request(
        "GET", "/auth/oauth/google/start?mode=link", **{"sec-fetch-site": "cross-site"}
    )
    assert foreign.status_code == 403

    start = await browser.request(
        "GET", "/auth/oauth/google/start?mode=link", **{"sec-fetch-site": "same-origin"}
    )
    async with httpx.AsyncClient() as client:
        back = urlsplit((await client.get(start.headers["location"])).headers["location"])
    done = await browser.request("GET", f"{back.path}?{back.query}")
    assert done.status_code == 303 and done.headers["location"] == "/settings?connected=google"
    assert parse_qs(urlsplit(done.headers["location"]).query) == {"connected": ["google"]}
    assert [(link.user_id, link.subject) for link in await links(tctx.tenant_id)] == [(member.id, "g-link")]
    assert oauth.MSG_EXISTING  # the plain sign-in path would have refused this account (see test_oauth)
