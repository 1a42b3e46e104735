"""Connected accounts: link mode (the signed-in user connects a provider from Settings), listing, unlinking
without ever locking a user out."""

from __future__ import annotations

import uuid

import pytest

from services.auth import oauth, oauth_links
from services.auth.accounts import authenticate, start_session
from services.context import Ctx
from services.db import tenant_session
from services.errors import AuthError, NotFound, ValidationError
from tests.conftest import password_user
from tests.fakes.oauth_provider import FakeOAuthProvider, GitHubIdentity, OidcIdentity
from tests.services import oauth_support
from tests.services.oauth_support import BIND, PASSWORD, REDIRECT, authorize, links, sign_in_with

provider = oauth_support.provider  # the loopback provider fixture


async def session_for(tctx, user_id: uuid.UUID) -> tuple[str, Ctx]:  # type: ignore[no-untyped-def]
    async with tenant_session(tctx.tenant_id) as session:
        token, _ = await start_session(session, tctx, user_id)
    ctx = await authenticate(tctx.tenant_id, token)
    assert ctx is not None
    return token, ctx


async def link_flow(tctx, provider_id: str, user_id: uuid.UUID, session_token: str) -> oauth.Completion:  # type: ignore[no-untyped-def]
    url = await oauth.start(
        tctx, provider_id, REDIRECT.format(provider=provider_id), binding=BIND, link_user_id=user_id
    )
    code, state, _ = await authorize(url)
    return await oauth.complete(
        tctx, provider_id, code=code, state=state, binding=BIND, session_token=session_token
    )


async def test_link_mode_connects_the_signed_in_user(tctx, provider: FakeOAuthProvider) -> None:
    me = await password_user(tctx, email="me@example.com", password=PASSWORD)  # email not verified here
    provider.identity = OidcIdentity(sub="g-me", email="me@example.com", email_verified=True)
    with pytest.raises(AuthError, match="connect Google from Settings"):
        await sign_in_with(tctx, "google")

    token, ctx = await session_for(tctx, me.id)
    done = await link_flow(tctx, "google", me.id, token)
    assert done.kind == "linked" and done.token == ""
    (link,) = await links(tctx.tenant_id)
    assert (link.user_id, link.provider, link.subject) == (me.id, "google", "g-me")
    assert [(a.provider, a.label, a.email) for a in await oauth_links.list_connected(ctx)] == [
        ("google", "Google", "me@example.com")
    ]

    # From now on Google signs this user in.
    session_token, _ = await sign_in_with(tctx, "google")
    signed = await authenticate(tctx.tenant_id, session_token)
    assert signed is not None and signed.user_id == me.id


async def test_link_needs_the_same_signed_in_session(tctx, provider: FakeOAuthProvider) -> None:
    me = await password_user(tctx, email="me@example.com", password=PASSWORD)
    other = await password_user(tctx, email="other@example.com", password=PASSWORD)
    my_token, _ = await session_for(tctx, me.id)
    other_token, _ = await session_for(tctx, other.id)

    for wrong in (other_token, "", "not-a-session"):
        url = await oauth.start(
            tctx, "google", REDIRECT.format(provider="google"), binding=BIND, link_user_id=me.id
        )
        code, state, _ = await authorize(url)
        with pytest.raises(AuthError, match="same signed-in session"):
            await oauth.complete(tctx, "google", code=code, state=state, binding=BIND, session_token=wrong)
    assert provider.token_requests == []  # refused before the code was ever swapped
    assert await links(tctx.tenant_id) == []
    assert (await link_flow(tctx, "google", me.id, my_token)).kind == "linked"


async def test_identity_of_another_user_cannot_be_linked(tctx, owner, provider: FakeOAuthProvider) -> None:
    provider.identity = OidcIdentity(sub="g-taken", email="taken@example.com", email_verified=True)
    await sign_in_with(tctx, "google")  # creates the user that owns g-taken
    me = await password_user(tctx, email="me@example.com", password=PASSWORD)
    token, _ = await session_for(tctx, me.id)
    with pytest.raises(AuthError, match="already connected to another user"):
        await link_flow(tctx, "google", me.id, token)
    assert [link.user_id for link in await links(tctx.tenant_id)] != [me.id]
    assert len(await links(tctx.tenant_id)) == 1


async def test_unlink_never_leaves_an_account_without_a_way_in(
    tctx, owner, provider: FakeOAuthProvider
) -> None:
    provider.identity = OidcIdentity(sub="g-only", email="only@example.com", email_verified=True)
    session_token, _ = await sign_in_with(tctx, "google")  # an OAuth-only account: no password
    ctx = await authenticate(tctx.tenant_id, session_token)
    assert ctx is not None
    (google,) = await oauth_links.list_connected(ctx)
    with pytest.raises(ValidationError, match="only way to sign in"):
        await oauth_links.unlink(ctx, google.id)
    assert len(await links(tctx.tenant_id)) == 1

    provider.github = GitHubIdentity(
        id=9, emails=[{"email": "gh@example.com", "primary": True, "verified": True}]
    )
    assert (await link_flow(tctx, "github", ctx.user_id, session_token)).kind == "linked"
    await oauth_links.unlink(ctx, google.id)  # GitHub remains
    (github,) = await oauth_links.list_connected(ctx)
    assert github.provider == "github"
    with pytest.raises(ValidationError, match="only way to sign in"):
        await oauth_links.unlink(ctx, github.id)


async def test_password_user_may_unlink_and_nobody_unlinks_for_others(
    tctx, provider: FakeOAuthProvider
) -> None:
    me = await password_user(tctx, email="me@example.com", password=PASSWORD)
    other = await password_user(tctx, email="other@example.com", password=PASSWORD)
    token, ctx = await session_for(tctx, me.id)
    await link_flow(tctx, "google", me.id, token)
    (mine,) = await oauth_links.list_connected(ctx)
    _, other_ctx = await session_for(tctx, other.id)
    with pytest.raises(NotFound):
        await oauth_links.unlink(other_ctx, mine.id)
    await oauth_links.unlink(ctx, mine.id)  # the password is still a way in
    assert await oauth_links.list_connected(ctx) == []
