"""Sign in with Google (OIDC) and GitHub against a real OAuth provider on loopback."""

from __future__ import annotations

import logging

import pytest
from sqlalchemy import text
from sqlmodel import select

from models import OAuthState
from services.auth import oauth
from services.auth.accounts import authenticate, log_in
from services.config import get_settings
from services.db import tenant_session
from services.errors import AuthError, NotFound
from tests.conftest import first_owner, join
from tests.fakes.oauth_provider import FakeOAuthProvider, GitHubIdentity, OidcIdentity, s256
from tests.services import oauth_support
from tests.services.oauth_support import (
    BIND,
    PASSWORD,
    REDIRECT,
    authorize,
    links,
    mark_verified,
    sign_in_with,
    users,
)

provider = oauth_support.provider  # the loopback provider fixture


async def test_google_happy_path_creates_user_with_pkce(tctx, provider: FakeOAuthProvider) -> None:
    boss = await first_owner(tctx, email="boss@example.com")  # sign-ups need an owner (policy.signup_role)
    provider.identity = OidcIdentity(
        sub="g-123", email="New.Person@Example.com", email_verified=True, name="New P"
    )
    redirect = REDIRECT.format(provider="google")

    url = await oauth.start(tctx, "google", redirect, binding=BIND)
    assert url.startswith(f"{provider.url}/authorize?")
    code, state, location = await authorize(url)
    assert location.startswith(redirect + "?")

    seen = provider.last_authorize
    assert seen["code_challenge_method"] == "S256"
    assert len(seen["code_challenge"]) == 43  # base64url of a SHA-256 digest
    assert seen["state"] == state
    assert seen["nonce"]
    assert seen["redirect_uri"] == redirect
    assert "openid" in seen["scope"].split() and "email" in seen["scope"].split()

    token, _ = await oauth.finish(tctx, "google", code=code, state=state, binding=BIND)

    sent = provider.last_token_request
    assert sent["pkce_verified"] is True
    assert s256(sent["form"]["code_verifier"]) == seen["code_challenge"]
    assert sent["form"]["redirect_uri"] == redirect
    assert sent["auth_method"] in ("client_secret_basic", "client_secret_post")
    assert provider.userinfo_requests[-1]["authorization"].startswith("Bearer ")

    ctx = await authenticate(tctx.tenant_id, token)
    assert ctx is not None and ctx.role == "member"  # owners come from the operator, not the first visitor
    (user,) = [u for u in await users(tctx.tenant_id) if u.id != boss.id]
    assert ctx.user_id == user.id
    assert user.email == "new.person@example.com" and user.email_verified and user.password_hash is None
    assert user.name == "New P"
    (link,) = await links(tctx.tenant_id)
    assert (link.provider, link.subject, link.user_id) == ("google", "g-123", user.id)

    # The same identity signs in again: same user, no second link.
    token2, _ = await sign_in_with(tctx, "google")
    ctx2 = await authenticate(tctx.tenant_id, token2)
    assert ctx2 is not None and ctx2.user_id == user.id
    assert len(await links(tctx.tenant_id)) == 1
    assert len(await users(tctx.tenant_id)) == 2


async def test_github_links_to_existing_password_account(tctx, provider: FakeOAuthProvider) -> None:
    owner = await first_owner(tctx, email="first@example.com", password=PASSWORD)
    existing = await join(tctx, email="dev@example.com", password=PASSWORD, name="Dev")
    await mark_verified(tctx.tenant_id, existing.id)  # both sides verified: joining by email is allowed
    provider.github = GitHubIdentity(
        id=4242,
        login="dev",
        name=None,
        email=None,
        emails=[
            {"email": "old@example.com", "primary": False, "verified": False},
            {"email": "Dev@Example.com", "primary": True, "verified": True},
        ],
    )

    url = await oauth.start(tctx, "github", REDIRECT.format(provider="github"), binding=BIND)
    assert url.startswith(f"{provider.url}/login/oauth/authorize?")
    code, state, _ = await authorize(url)
    assert provider.last_authorize["code_challenge_method"] == "S256"
    token, _ = await oauth.finish(tctx, "github", code=code, state=state, binding=BIND)
    assert provider.last_token_request["pkce_verified"] is True

    ctx = await authenticate(tctx.tenant_id, token)
    assert ctx is not None and ctx.user_id == existing.id and ctx.role == "member"
    assert sorted(u.email for u in await users(tctx.tenant_id)) == ["dev@example.com", "first@example.com"]
    (link,) = await links(tctx.tenant_id)
    assert (link.provider, link.subject, link.user_id) == ("github", "4242", existing.id)
    assert owner.id != existing.id

    # The password still works: linking did not touch it.
    assert (await log_in(tctx, email="dev@example.com", password=PASSWORD)).id == existing.id

    async with tenant_session(tctx.tenant_id) as session:
        result = await session.execute(
            text("SELECT action FROM audit_log WHERE target_user_id = :u"), {"u": existing.id}
        )
        actions = result.all()
    assert {"user.oauth_linked", "user.login"} <= {a for (a,) in actions}


async def test_unverified_email_is_refused_and_not_linked(tctx, provider: FakeOAuthProvider) -> None:
    victim = await first_owner(tctx, email="victim@example.com", password=PASSWORD)
    provider.identity = OidcIdentity(sub="attacker", email="victim@example.com", email_verified=False)

    with pytest.raises(AuthError, match="Log in with your password, then connect Google from Settings"):
        await sign_in_with(tctx, "google")
    assert await links(tctx.tenant_id) == []
    assert [u.id for u in await users(tctx.tenant_id)] == [victim.id]

    # GitHub: no verified address in the list (the public profile email does not count).
    provider.github = GitHubIdentity(
        id=77,
        email="victim@example.com",
        emails=[{"email": "victim@example.com", "primary": True, "verified": False}],
    )
    with pytest.raises(AuthError, match="Log in with your password"):
        await sign_in_with(tctx, "github")
    assert await links(tctx.tenant_id) == []


async def test_forged_state_is_refused_and_state_is_single_use(
    tctx, owner, provider: FakeOAuthProvider
) -> None:
    url = await oauth.start(tctx, "google", REDIRECT.format(provider="google"), binding=BIND)
    code, state, _ = await authorize(url)

    with pytest.raises(AuthError, match="state"):
        await oauth.finish(tctx, "google", code=code, state="forged-" + state, binding=BIND)
    assert provider.token_requests == []  # a forged state never reaches the provider

    token, _ = await oauth.finish(tctx, "google", code=code, state=state, binding=BIND)
    assert await authenticate(tctx.tenant_id, token) is not None

    with pytest.raises(AuthError, match="state"):
        await oauth.finish(tctx, "google", code=code, state=state, binding=BIND)
    assert len(provider.token_requests) == 1


async def test_state_of_another_tenant_is_refused(
    tctx, owner, other_tenant, provider: FakeOAuthProvider
) -> None:
    from services.context import TenantCtx

    url = await oauth.start(tctx, "google", REDIRECT.format(provider="google"), binding=BIND)
    code, state, _ = await authorize(url)
    with pytest.raises(AuthError, match="state"):
        await oauth.finish(
            TenantCtx(tenant_id=other_tenant.id), "google", code=code, state=state, binding=BIND
        )
    # It was not consumed by the other tenant's attempt (that tenant cannot even see it).
    token, _ = await oauth.finish(tctx, "google", code=code, state=state, binding=BIND)
    assert await authenticate(tctx.tenant_id, token) is not None


async def test_state_for_another_provider_is_refused(tctx, provider: FakeOAuthProvider) -> None:
    url = await oauth.start(tctx, "google", REDIRECT.format(provider="google"), binding=BIND)
    code, state, _ = await authorize(url)
    with pytest.raises(AuthError, match="state"):
        await oauth.finish(tctx, "github", code=code, state=state, binding=BIND)
    # The attempt used the state up: it cannot be replayed with the right provider either.
    with pytest.raises(AuthError, match="state"):
        await oauth.finish(tctx, "google", code=code, state=state, binding=BIND)
    assert provider.token_requests == []
    async with tenant_session(tctx.tenant_id) as session:
        assert (await session.exec(select(OAuthState))).all() == []


async def test_token_endpoint_errors_show_a_fixed_message_and_log_the_detail(
    tctx, provider: FakeOAuthProvider, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="solo.auth.oauth")
    # A code the provider does not know (OIDC: HTTP 400 with an OAuth error body).
    url = await oauth.start(tctx, "google", REDIRECT.format(provider="google"), binding=BIND)
    code, state, _ = await authorize(url)
    with pytest.raises(AuthError) as caught:
        await oauth.finish(tctx, "google", code=code + "x", state=state, binding=BIND)
    assert str(caught.value) == oauth.MSG_REFUSED.format(label="Google")
    assert "The authorization code is unknown" in caplog.text

    # The provider refuses for its own reasons: its words (here, a phishing attempt) never reach the user.
    provider.token_failure = (400, "invalid_grant", "Call +1 555 0100 to unlock your account.")
    url = await oauth.start(tctx, "google", REDIRECT.format(provider="google"), binding=BIND)
    code, state, _ = await authorize(url)
    with pytest.raises(AuthError) as caught:
        await oauth.finish(tctx, "google", code=code, state=state, binding=BIND)
    assert "555" not in str(caught.value) and "invalid_grant" not in str(caught.value)
    assert "Call +1 555 0100" in caplog.text

    # GitHub answers errors with HTTP 200 and the error in the body; it must still be an error.
    url = await oauth.start(tctx, "github", REDIRECT.format(provider="github"), binding=BIND)
    code, state, _ = await authorize(url)
    with pytest.raises(AuthError) as caught:
        await oauth.finish(tctx, "github", code="not-a-code", state=state, binding=BIND)
    assert "invalid_grant" not in str(caught.value) and str(caught.value).startswith("GitHub")
    assert await users(tctx.tenant_id) == []


async def test_pkce_verifier_mismatch_is_refused_by_provider(
    tctx, provider: FakeOAuthProvider, caplog: pytest.LogCaptureFixture
) -> None:
    """Proof that the fake really checks the verifier: tamper with the stored one and the exchange fails."""
    caplog.set_level(logging.WARNING, logger="solo.auth.oauth")
    url = await oauth.start(tctx, "google", REDIRECT.format(provider="google"), binding=BIND)
    code, state, _ = await authorize(url)
    async with tenant_session(tctx.tenant_id) as session:
        await session.execute(text("UPDATE oauth_states SET code_verifier = repeat('a', 64)"))
    with pytest.raises(AuthError, match="refused the sign-in"):
        await oauth.finish(tctx, "google", code=code, state=state, binding=BIND)
    assert provider.last_token_request["pkce_verified"] is False
    assert "PKCE verification failed" in caplog.text


async def test_wrong_client_secret_is_refused(
    tctx, provider: FakeOAuthProvider, monkeypatch, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="solo.auth.oauth")
    monkeypatch.setenv("GOOGLE_CLIENT_SECRET", "not-the-secret")
    get_settings.cache_clear()
    url = await oauth.start(tctx, "google", REDIRECT.format(provider="google"), binding=BIND)
    code, state, _ = await authorize(url)
    with pytest.raises(AuthError) as caught:
        await oauth.finish(tctx, "google", code=code, state=state, binding=BIND)
    assert "invalid_client" not in str(caught.value)
    assert "invalid_client" in caplog.text


async def test_unconfigured_provider_and_missing_code(tctx, provider: FakeOAuthProvider, monkeypatch) -> None:
    monkeypatch.delenv("GITHUB_CLIENT_ID")
    get_settings.cache_clear()
    assert [p.id for p in oauth.configured_providers()] == ["google"]
    with pytest.raises(NotFound, match="not configured"):
        await oauth.start(tctx, "github", REDIRECT.format(provider="github"), binding=BIND)
    with pytest.raises(AuthError, match="did not send a code"):
        await oauth.finish(tctx, "google", code="", state="whatever", binding=BIND)


async def test_suspended_user_cannot_sign_in_with_oauth(tctx, provider: FakeOAuthProvider) -> None:
    from services.auth.accounts import start_session
    from services.auth.members import set_status

    owner = await first_owner(tctx, email="boss@example.com", password=PASSWORD)
    provider.identity = OidcIdentity(sub="g-9", email="worker@example.com", email_verified=True)
    token, _ = await sign_in_with(tctx, "google")
    worker = await authenticate(tctx.tenant_id, token)
    assert worker is not None and worker.role == "member"

    async with tenant_session(tctx.tenant_id) as session:
        owner_token, _ = await start_session(session, tctx, owner.id)
    owner_ctx = await authenticate(tctx.tenant_id, owner_token)
    assert owner_ctx is not None
    await set_status(owner_ctx, worker.user_id, "suspended")
    with pytest.raises(AuthError, match="suspended"):
        await sign_in_with(tctx, "google")


async def test_expired_state_is_refused(tctx, provider: FakeOAuthProvider) -> None:
    url = await oauth.start(tctx, "google", REDIRECT.format(provider="google"), binding=BIND)
    code, state, _ = await authorize(url)
    async with tenant_session(tctx.tenant_id) as session:
        await session.execute(text("UPDATE oauth_states SET expires_at = now() - interval '1 second'"))
    with pytest.raises(AuthError, match="expired"):
        await oauth.finish(tctx, "google", code=code, state=state, binding=BIND)
    assert provider.token_requests == []


async def test_unreachable_provider_is_a_service_error(tctx, provider: FakeOAuthProvider) -> None:
    """The API routes show ServiceErrors to the user; a provider that is down must be one, not a crash."""
    provider.stop()
    with pytest.raises(AuthError) as caught:
        await oauth.start(tctx, "google", REDIRECT.format(provider="google"), binding=BIND)
    assert str(caught.value) == oauth.MSG_UNAVAILABLE.format(label="Google")  # no exception text shown
