"""Sign in with Google, GitHub or any OIDC provider: authorization code + PKCE (S256) + state, via Authlib.

The state and its PKCE verifier are kept (state hashed) in `oauth_states`, used once, for ten minutes, and
bound to the browser that started the flow (the hash of a cookie set by the start route must come back with
the callback). OIDC ID tokens are verified (signature via JWKS, iss, aud, exp, nonce) before anything else.

An OAuth identity joins an existing account by email only when the provider says the address is verified (a
real boolean) and the local account's own address is verified too; otherwise the user logs in with the
password and connects the provider from Settings (link mode: the state remembers who asked, and the callback
requires that same signed-in session).

Users see one fixed message per kind of failure; what the provider said is logged, never shown.
"""

from __future__ import annotations

import hmac
import logging
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import httpx
import httpx2
from authlib.common.security import generate_token
from authlib.integrations.base_client import OAuthError
from authlib.integrations.httpx_client import AsyncOAuth2Client
from sqlalchemy import delete
from sqlmodel import col, select

from models import OAuthAccount, OAuthState, User
from models.base import utcnow
from services.auth import audit, oidc, policy
from services.auth.accounts import (
    _lock_tenant_users,
    authenticate,
    create_user,
    find_user,
    normalise_email,
    start_session,
)
from services.auth.secrets import token_hash
from services.config import Settings, get_settings
from services.context import Ctx, TenantCtx
from services.db import tenant_session
from services.errors import AuthError, NotFound

STATE_TTL = timedelta(minutes=10)
# What talking to a provider can raise: our discovery fetch uses httpx, Authlib's client uses httpx2.
PROVIDER_ERRORS = (httpx.HTTPError, httpx2.HTTPError, OAuthError, KeyError, ValueError)
HTTP_TIMEOUT = 10.0
log = logging.getLogger("solo.auth.oauth")

# What users are told, one fixed text per kind of failure (the provider's own words go to the log only).
MSG_UNAVAILABLE = "{label} sign-in is not available right now. Try again later."
MSG_REFUSED = "{label} refused the sign-in. Start again, and contact an admin if it keeps happening."
MSG_FAILED = "{label} sign-in could not be completed. Try again."
MSG_ID_TOKEN = "{label} sent a sign-in token we could not verify, so we did not sign you in. Start again."
MSG_NO_CODE = "The sign-in provider did not send a code. Try again."
MSG_STATE = "This sign-in attempt is invalid or has expired (state mismatch). Start again."
MSG_BROWSER = (
    "This sign-in was started in another browser, or its cookie has expired. Start again from this browser."
)
MSG_UNVERIFIED = (
    "{label} did not confirm a verified email address, so we cannot sign you in. "
    "Verify your email with them, or sign up with a password."
)
MSG_EXISTING = (
    "An account with this email address already exists. Log in with your password, then connect {label} "
    "from Settings (Connected accounts)."
)
MSG_LINK_SESSION = (
    "Connecting {label} must finish in the same signed-in session that started it. Log in and try again "
    "from Settings."
)
MSG_LINKED_ELSEWHERE = "This {label} account is already connected to another user of this workspace."
MSG_ONE_PER_PROVIDER = "Your account is already connected to another {label} account. Disconnect it first."


@dataclass(frozen=True, slots=True)
class Provider:
    id: str
    label: str
    client_id: str
    client_secret: str
    scope: str
    discovery_url: str = ""  # OIDC
    authorize_url: str = ""  # plain OAuth 2 (GitHub)
    token_url: str = ""
    api_url: str = ""
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def oidc(self) -> bool:
        return bool(self.discovery_url)


def configured_providers(settings: Settings | None = None) -> list[Provider]:
    s = settings or get_settings()
    out: list[Provider] = []
    if s.google_client_id and s.google_client_secret:
        out.append(
            Provider(
                "google",
                "Google",
                s.google_client_id,
                s.google_client_secret,
                "openid email profile",
                discovery_url=s.google_discovery_url,
            )
        )
    if s.github_client_id and s.github_client_secret:
        out.append(
            Provider(
                "github",
                "GitHub",
                s.github_client_id,
                s.github_client_secret,
                "read:user user:email",
                authorize_url=s.github_authorize_url,
                token_url=s.github_token_url,
                api_url=s.github_api_url.rstrip("/"),
            )
        )
    if s.oidc_client_id and s.oidc_discovery_url:
        out.append(
            Provider(
                "oidc",
                s.oidc_label,
                s.oidc_client_id,
                s.oidc_client_secret,
                "openid email profile",
                discovery_url=s.oidc_discovery_url,
            )
        )
    return out


def get_provider(provider_id: str) -> Provider:
    for provider in configured_providers():
        if provider.id == provider_id:
            return provider
    raise NotFound(f"Sign-in with '{provider_id}' is not configured on this server.")


_discovery_cache: dict[str, tuple[float, dict[str, Any]]] = {}


async def _metadata(provider: Provider) -> dict[str, Any]:
    if not provider.oidc:
        return {"authorization_endpoint": provider.authorize_url, "token_endpoint": provider.token_url}
    cached = _discovery_cache.get(provider.discovery_url)
    if cached and time.monotonic() - cached[0] < 3600:
        return cached[1]
    try:
        async with httpx.AsyncClient(timeout=HTTP_TIMEOUT) as client:
            response = await client.get(provider.discovery_url)
            response.raise_for_status()
            meta: dict[str, Any] = response.json()
    except (httpx.HTTPError, ValueError) as exc:
        log.warning("oauth %s: discovery document unavailable: %r", provider.id, exc)
        raise AuthError(MSG_UNAVAILABLE.format(label=provider.label)) from exc
    _discovery_cache[provider.discovery_url] = (time.monotonic(), meta)
    return meta


def _client(provider: Provider, redirect_uri: str) -> AsyncOAuth2Client:
    return AsyncOAuth2Client(
        client_id=provider.client_id,
        client_secret=provider.client_secret,
        scope=provider.scope,
        redirect_uri=redirect_uri,
        code_challenge_method="S256",
        timeout=HTTP_TIMEOUT,
    )


async def start(
    tctx: TenantCtx,
    provider_id: str,
    redirect_uri: str,
    *,
    binding: str,
    link_user_id: uuid.UUID | None = None,
) -> str:
    """Store a fresh state + PKCE verifier and return the provider's authorization URL.

    `binding` is the random value of the cookie the start route sets in this browser (its hash is stored);
    `link_user_id`, for a signed-in user connecting the provider from Settings, makes this a link flow."""
    if not binding:
        raise AuthError(MSG_BROWSER)
    provider = get_provider(provider_id)
    meta = await _metadata(provider)
    state, verifier = generate_token(32), generate_token(64)
    nonce = generate_token(24) if provider.oidc else ""
    async with tenant_session(tctx.tenant_id) as session:
        await session.exec(delete(OAuthState).where(col(OAuthState.expires_at) < utcnow()))
        session.add(
            OAuthState(
                tenant_id=tctx.tenant_id,
                state_hash=token_hash(state),
                provider=provider.id,
                code_verifier=verifier,
                nonce=nonce,
                redirect_uri=redirect_uri,
                expires_at=utcnow() + STATE_TTL,
                binding_hash=token_hash(binding),
                link_user_id=link_user_id,
            )
        )
    extra = {"nonce": nonce} if nonce else {}
    async with _client(provider, redirect_uri) as client:
        url, _ = client.create_authorization_url(
            meta["authorization_endpoint"], state=state, code_verifier=verifier, **extra
        )
    return str(url)


@dataclass(frozen=True, slots=True)
class Identity:
    subject: str
    email: str
    email_verified: bool
    name: str


def _verified(value: object) -> bool:
    """Only a real JSON `true` counts: `bool("false")` is True, so strings and numbers never pass."""
    return value is True


async def _identity(
    provider: Provider, meta: dict[str, Any], client: AsyncOAuth2Client, claims: dict[str, Any]
) -> Identity:
    if provider.oidc:
        response = await client.get(meta["userinfo_endpoint"])
        response.raise_for_status()
        info = response.json()
        if str(info["sub"]) != str(claims["sub"]):  # OIDC Core 5.3.2: userinfo must be about the same user
            raise oidc.IdTokenError("userinfo sub differs from the ID token's sub")
        email = str(info.get("email") or claims.get("email") or "")
        verified = info["email_verified"] if "email_verified" in info else claims.get("email_verified")
        return Identity(
            subject=str(claims["sub"]),
            email=email,
            email_verified=_verified(verified),
            name=str(info.get("name") or claims.get("name") or ""),
        )
    headers = {"Accept": "application/vnd.github+json"}
    user = (await client.get(f"{provider.api_url}/user", headers=headers)).raise_for_status().json()
    emails = (await client.get(f"{provider.api_url}/user/emails", headers=headers)).raise_for_status().json()
    good = [e for e in emails if isinstance(e, dict) and isinstance(e.get("email"), str)]
    primary = next((e for e in good if e.get("primary") is True and _verified(e.get("verified"))), None)
    verified = primary or next((e for e in good if _verified(e.get("verified"))), None)
    return Identity(
        subject=str(user["id"]),
        email=str((verified or {}).get("email") or user.get("email") or ""),
        email_verified=verified is not None,
        name=str(user.get("name") or user.get("login") or ""),
    )


@dataclass(frozen=True, slots=True)
class Completion:
    """What a callback achieved: a new session (sign-in) or a provider connected to the signed-in user."""

    kind: str  # "signed_in" | "linked"
    provider_label: str
    token: str = ""
    expires: datetime | None = None


async def complete(
    tctx: TenantCtx, provider_id: str, *, code: str, state: str, binding: str, session_token: str = ""
) -> Completion:
    """The callback: check the state and that this browser started it (binding cookie), in link mode that
    the same user is still signed in, swap the code (with the PKCE verifier) for tokens, verify the ID token,
    then sign in (find or create the user) or link the identity."""
    provider = get_provider(provider_id)
    label = provider.label
    if not code or not state:
        raise AuthError(MSG_NO_CODE)
    async with tenant_session(tctx.tenant_id) as session:
        row = (
            await session.exec(
                select(OAuthState).where(OAuthState.state_hash == token_hash(state)).with_for_update()
            )
        ).first()
        if row is not None:
            await session.delete(row)  # single use, whatever happens next
    if row is None or row.provider != provider.id or row.expires_at < utcnow():
        raise AuthError(MSG_STATE)
    if not binding or not hmac.compare_digest(row.binding_hash, token_hash(binding)):
        log.warning("oauth %s: callback from a browser that did not start the flow", provider.id)
        raise AuthError(MSG_BROWSER)
    linker: Ctx | None = None
    if row.link_user_id is not None:
        linker = await authenticate(tctx.tenant_id, session_token, ip=tctx.ip)
        if linker is None or linker.user_id != row.link_user_id:
            raise AuthError(MSG_LINK_SESSION.format(label=label))
    meta = await _metadata(provider)
    try:
        async with _client(provider, row.redirect_uri) as client:
            token = await client.fetch_token(
                meta["token_endpoint"],
                code=code,
                code_verifier=row.code_verifier,
                headers={"Accept": "application/json"},
            )
            claims: dict[str, Any] = {}
            if provider.oidc:
                claims = await oidc.validate_id_token(
                    meta,
                    id_token=str(token.get("id_token") or ""),
                    client_id=provider.client_id,
                    nonce=row.nonce,
                    access_token=str(token.get("access_token") or ""),
                )
            identity = await _identity(provider, meta, client, claims)
    except oidc.IdTokenError as exc:
        log.warning("oauth %s: ID token refused: %s", provider.id, exc)
        raise AuthError(MSG_ID_TOKEN.format(label=label)) from exc
    except OAuthError as exc:
        log.warning("oauth %s: token exchange refused: %s %s", provider.id, exc.error, exc.description)
        raise AuthError(MSG_REFUSED.format(label=label)) from exc
    except PROVIDER_ERRORS as exc:
        log.warning("oauth %s: sign-in failed: %r", provider.id, exc)
        raise AuthError(MSG_FAILED.format(label=label)) from exc
    if linker is not None:
        await _link(tctx, provider, identity, linker)
        return Completion("linked", label)
    session_token_raw, expires = await _sign_in(tctx, provider, identity)
    return Completion("signed_in", label, session_token_raw, expires)


async def finish(
    tctx: TenantCtx, provider_id: str, *, code: str, state: str, binding: str
) -> tuple[str, Any]:
    """A sign-in callback (not a link flow). Returns (raw session token, expiry)."""
    done = await complete(tctx, provider_id, code=code, state=state, binding=binding)
    return done.token, done.expires


async def _link(tctx: TenantCtx, provider: Provider, identity: Identity, ctx: Ctx) -> None:
    """Connect `identity` to the signed-in user `ctx` (who proved control of both)."""
    async with tenant_session(tctx.tenant_id) as session:
        user = await session.get(User, ctx.user_id, with_for_update=True)
        if user is None or user.status != "active":
            raise AuthError("This account is suspended. Contact an admin of this workspace.")
        mine = (
            await session.exec(
                select(OAuthAccount).where(
                    OAuthAccount.user_id == ctx.user_id, OAuthAccount.provider == provider.id
                )
            )
        ).all()
        taken = (
            await session.exec(
                select(OAuthAccount).where(
                    OAuthAccount.provider == provider.id, OAuthAccount.subject == identity.subject
                )
            )
        ).first()
        if taken is not None and taken.user_id != ctx.user_id:
            raise AuthError(MSG_LINKED_ELSEWHERE.format(label=provider.label))
        if taken is not None:
            return  # already connected to this very user
        if mine:
            raise AuthError(MSG_ONE_PER_PROVIDER.format(label=provider.label))
        session.add(
            OAuthAccount(
                tenant_id=tctx.tenant_id,
                user_id=ctx.user_id,
                provider=provider.id,
                subject=identity.subject,
                email=identity.email[:320],
            )
        )
        audit.record(
            session,
            tctx.tenant_id,
            "user.oauth_linked",
            actor=ctx.user_id,
            target=ctx.user_id,
            ip=tctx.ip,
            provider=provider.id,
        )


async def _sign_in(tctx: TenantCtx, provider: Provider, identity: Identity) -> tuple[str, Any]:
    async with tenant_session(tctx.tenant_id) as session:
        link = (
            await session.exec(
                select(OAuthAccount).where(
                    OAuthAccount.provider == provider.id, OAuthAccount.subject == identity.subject
                )
            )
        ).first()
        user: User | None = await session.get(User, link.user_id) if link else None
        if user is None:
            if not identity.email:
                raise AuthError(MSG_UNVERIFIED.format(label=provider.label))
            user = await find_user(session, identity.email)
            action = "user.oauth_linked"
            if user is not None and not (identity.email_verified and user.email_verified):
                # Joining by email needs both sides verified, or an attacker who registered the victim's
                # address (here or at the provider) would take over the account.
                raise AuthError(MSG_EXISTING.format(label=provider.label))
            if user is None and not identity.email_verified:
                raise AuthError(MSG_UNVERIFIED.format(label=provider.label))
            if user is None:
                await _lock_tenant_users(session, tctx.tenant_id)
                role = await policy.signup_role(session, tctx.tenant_id, normalise_email(identity.email))
                user = await create_user(
                    session,
                    tctx.tenant_id,
                    email=identity.email,
                    name=identity.name,
                    role=role,
                    email_verified=True,
                )
                action = "user.signup"
            session.add(
                OAuthAccount(
                    tenant_id=tctx.tenant_id,
                    user_id=user.id,
                    provider=provider.id,
                    subject=identity.subject,
                    email=identity.email,
                )
            )
            audit.record(
                session,
                tctx.tenant_id,
                action,
                actor=user.id,
                target=user.id,
                ip=tctx.ip,
                provider=provider.id,
            )
        if user.status != "active":
            raise AuthError("This account is suspended. Contact an admin of this workspace.")
        audit.record(
            session,
            tctx.tenant_id,
            "user.login",
            actor=user.id,
            target=user.id,
            ip=tctx.ip,
            provider=provider.id,
        )
        return await start_session(session, tctx, user.id)
