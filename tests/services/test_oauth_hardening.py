"""OAuth hardening against a real loopback provider: verified flags as real booleans, both sides verified
before joining by email, ID token checks (signature, aud, exp, nonce), and the state bound to a browser."""

from __future__ import annotations

import pytest

from services.auth import oauth
from services.auth.accounts import authenticate
from services.errors import AuthError
from tests.conftest import password_user
from tests.fakes.oauth_provider import FakeOAuthProvider, GitHubIdentity, OidcIdentity
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


async def test_oidc_email_verified_string_false_is_not_verified(tctx, provider: FakeOAuthProvider) -> None:
    provider.identity = OidcIdentity(sub="g-str", email="str@example.com", email_verified="false")  # type: ignore[arg-type]
    with pytest.raises(AuthError, match="did not confirm a verified email"):
        await sign_in_with(tctx, "google")
    assert await users(tctx.tenant_id) == []
    assert await links(tctx.tenant_id) == []


async def test_github_verified_flag_must_be_true(tctx, provider: FakeOAuthProvider) -> None:
    provider.github = GitHubIdentity(
        id=55,
        emails=[{"email": "gh@example.com", "primary": True, "verified": "false"}],
    )
    with pytest.raises(AuthError, match="did not confirm a verified email"):
        await sign_in_with(tctx, "github")
    assert await users(tctx.tenant_id) == []


async def test_existing_account_joins_only_when_both_sides_are_verified(
    tctx, provider: FakeOAuthProvider
) -> None:
    """Pre-hijack: somebody registers victim@ with a password (never verified); the real owner of the
    address must not be silently joined to that account (nor the other way round)."""
    planted = await password_user(tctx, email="victim@example.com", password=PASSWORD)
    provider.identity = OidcIdentity(sub="g-victim", email="victim@example.com", email_verified=True)

    with pytest.raises(AuthError) as caught:
        await sign_in_with(tctx, "google")
    assert str(caught.value) == oauth.MSG_EXISTING.format(label="Google")
    assert await links(tctx.tenant_id) == []

    # Verified provider string "true" is still not a verified flag, even with a verified local account.
    await mark_verified(tctx.tenant_id, planted.id)
    provider.identity = OidcIdentity(sub="g-victim", email="victim@example.com", email_verified="true")  # type: ignore[arg-type]
    with pytest.raises(AuthError, match="Log in with your password"):
        await sign_in_with(tctx, "google")
    assert await links(tctx.tenant_id) == []

    # Both really verified: joined.
    provider.identity = OidcIdentity(sub="g-victim", email="victim@example.com", email_verified=True)
    token, _ = await sign_in_with(tctx, "google")
    ctx = await authenticate(tctx.tenant_id, token)
    assert ctx is not None and ctx.user_id == planted.id
    assert [link.user_id for link in await links(tctx.tenant_id)] == [planted.id]


@pytest.mark.parametrize("mode", ["wrong_nonce", "wrong_aud", "expired", "bad_signature", "missing"])
async def test_bad_id_token_is_refused(tctx, provider: FakeOAuthProvider, mode: str) -> None:
    provider.id_token_mode = mode
    url = await oauth.start(tctx, "google", REDIRECT.format(provider="google"), binding=BIND)
    code, state, _ = await authorize(url)
    with pytest.raises(AuthError) as caught:
        await oauth.finish(tctx, "google", code=code, state=state, binding=BIND)
    assert str(caught.value) == oauth.MSG_ID_TOKEN.format(label="Google")
    assert len(provider.token_requests) == 1  # the provider was asked; its token was not believed
    assert await users(tctx.tenant_id) == []
    assert await links(tctx.tenant_id) == []


async def test_id_token_carries_the_nonce_we_sent(tctx, owner, provider: FakeOAuthProvider) -> None:
    """The fake signs a real RS256 token with the nonce of the authorization request; we accept it."""
    import base64
    import json

    def decode(part: str) -> bytes:
        return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))

    await sign_in_with(tctx, "google")
    header, claims = (json.loads(decode(part)) for part in provider.id_tokens[-1].split(".")[:2])
    assert header["alg"] == "RS256" and header["kid"] == provider.kid
    assert claims["nonce"] == provider.last_authorize["nonce"]


async def test_state_is_bound_to_the_browser_that_started(tctx, provider: FakeOAuthProvider) -> None:
    """Login CSRF: an attacker's own code+state, replayed in the victim's browser, lacks the attacker's
    binding cookie and is refused before the provider is even asked."""
    url = await oauth.start(tctx, "google", REDIRECT.format(provider="google"), binding=BIND)
    code, state, _ = await authorize(url)
    with pytest.raises(AuthError) as caught:
        await oauth.finish(tctx, "google", code=code, state=state, binding="cookie-of-browser-b")
    assert str(caught.value) == oauth.MSG_BROWSER
    # The state was used up by that attempt: it cannot be replayed, not even by the right browser.
    with pytest.raises(AuthError, match="state"):
        await oauth.finish(tctx, "google", code=code, state=state, binding=BIND)

    url = await oauth.start(tctx, "google", REDIRECT.format(provider="google"), binding=BIND)
    code, state, _ = await authorize(url)
    with pytest.raises(AuthError, match="another browser"):
        await oauth.finish(tctx, "google", code=code, state=state, binding="")
    assert provider.token_requests == []
    with pytest.raises(AuthError, match="another browser"):
        await oauth.start(tctx, "google", REDIRECT.format(provider="google"), binding="")
