"""Shared by the OAuth tests: the loopback provider fixture, a browser-like authorize hop, small queries."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from sqlalchemy import text
from sqlmodel import select

from models import OAuthAccount, User
from services.auth import oauth, oidc
from services.config import get_settings
from services.db import tenant_session
from tests.fakes.oauth_provider import FakeOAuthProvider

REDIRECT = "http://acme.localhost:3000/api/auth/{provider}/callback"
PASSWORD = "correct horse battery"
BIND = "binding-cookie-of-browser-a"


@pytest.fixture
def provider(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeOAuthProvider]:
    fake = FakeOAuthProvider().start()
    monkeypatch.setenv("GOOGLE_CLIENT_ID", fake.client_id)
    monkeypatch.setenv("GOOGLE_CLIENT_SECRET", fake.client_secret)
    monkeypatch.setenv("GOOGLE_DISCOVERY_URL", fake.discovery_url)
    monkeypatch.setenv("GITHUB_CLIENT_ID", fake.github_client_id)
    monkeypatch.setenv("GITHUB_CLIENT_SECRET", fake.github_client_secret)
    monkeypatch.setenv("GITHUB_AUTHORIZE_URL", f"{fake.url}/login/oauth/authorize")
    monkeypatch.setenv("GITHUB_TOKEN_URL", f"{fake.url}/login/oauth/access_token")
    monkeypatch.setenv("GITHUB_API_URL", f"{fake.url}/api")
    get_settings.cache_clear()  # the tenant fixtures may already have read (and cached) the settings
    oauth._discovery_cache.clear()
    oidc._jwks_cache.clear()
    try:
        yield fake
    finally:
        oauth._discovery_cache.clear()
        oidc._jwks_cache.clear()
        fake.stop()


async def authorize(url: str) -> tuple[str, str, str]:
    """Follow the authorization URL like a browser would (one hop); return (code, state, callback URL)."""
    async with httpx.AsyncClient(follow_redirects=False, timeout=5) as client:
        response = await client.get(url)
    assert response.status_code == 302, response.text
    location = response.headers["location"]
    params = parse_qs(urlsplit(location).query)
    return params["code"][0], params["state"][0], location


async def sign_in_with(tctx, provider_id: str) -> tuple[str, str]:  # type: ignore[no-untyped-def]
    """The whole browser round trip; returns (session token, state)."""
    url = await oauth.start(tctx, provider_id, REDIRECT.format(provider=provider_id), binding=BIND)
    code, state, _ = await authorize(url)
    token, _expires = await oauth.finish(tctx, provider_id, code=code, state=state, binding=BIND)
    return token, state


async def links(tenant_id) -> list[OAuthAccount]:  # type: ignore[no-untyped-def]
    async with tenant_session(tenant_id) as session:
        return list((await session.exec(select(OAuthAccount))).all())


async def users(tenant_id) -> list[User]:  # type: ignore[no-untyped-def]
    async with tenant_session(tenant_id) as session:
        return list((await session.exec(select(User))).all())


async def mark_verified(tenant_id, user_id) -> None:  # type: ignore[no-untyped-def]
    async with tenant_session(tenant_id) as session:
        await session.execute(text("UPDATE users SET email_verified = true WHERE id = :u"), {"u": user_id})
