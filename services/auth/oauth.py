"""Sign in with Google, GitHub or any OIDC provider: authorization code + PKCE (S256) + state, via Authlib.

The state and its PKCE verifier are kept (state hashed) in `oauth_states`, used once, for ten minutes.
An OAuth identity links to an existing account only through an email the provider says is verified.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import timedelta
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
from services.auth import audit, policy
from services.auth.accounts import _lock_tenant_users, create_user, find_user, normalise_email, start_session
from services.auth.secrets import token_hash
from services.config import Settings, get_settings
from services.context import TenantCtx
from services.db import tenant_session
from services.errors import AuthError, NotFound

STATE_TTL = timedelta(minutes=10)
# What talking to a provider can raise: our discovery fetch uses httpx, Authlib's client uses httpx2.
PROVIDER_ERRORS = (httpx.HTTPError, httpx2.HTTPError, OAuthError, KeyError, ValueError)
HTTP_TIMEOUT = 10.0


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
        raise AuthError(
            f"{provider.label} sign-in is not available right now ({exc}). Try again later."
        ) from exc
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


async def start(tctx: TenantCtx, provider_id: str, redirect_uri: str) -> str:
    """Store a fresh state + PKCE verifier and return the provider's authorization URL."""
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


async def _identity(provider: Provider, meta: dict[str, Any], client: AsyncOAuth2Client) -> Identity:
    if provider.oidc:
        response = await client.get(meta["userinfo_endpoint"])
        response.raise_for_status()
        info = response.json()
        return Identity(
            subject=str(info["sub"]),
            email=str(info.get("email") or ""),
            email_verified=bool(info.get("email_verified")),
            name=str(info.get("name") or ""),
        )
    headers = {"Accept": "application/vnd.github+json"}
    user = (await client.get(f"{provider.api_url}/user", headers=headers)).raise_for_status().json()
    emails = (await client.get(f"{provider.api_url}/user/emails", headers=headers)).raise_for_status().json()
    primary = next((e for e in emails if e.get("primary") and e.get("verified")), None)
    verified = primary or next((e for e in emails if e.get("verified")), None)
    return Identity(
        subject=str(user["id"]),
        email=str((verified or {}).get("email") or user.get("email") or ""),
        email_verified=verified is not None,
        name=str(user.get("name") or user.get("login") or ""),
    )


async def finish(tctx: TenantCtx, provider_id: str, *, code: str, state: str) -> tuple[str, Any]:
    """Check the state, swap the code (with the PKCE verifier) for a token, find or create the user, and
    start a session. Returns (raw session token, expiry)."""
    provider = get_provider(provider_id)
    if not code or not state:
        raise AuthError("The sign-in provider did not send a code. Try again.")
    async with tenant_session(tctx.tenant_id) as session:
        row = (
            await session.exec(
                select(OAuthState).where(OAuthState.state_hash == token_hash(state)).with_for_update()
            )
        ).first()
        if row is not None:
            await session.delete(row)  # single use, whatever happens next
    if row is None or row.provider != provider.id or row.expires_at < utcnow():
        raise AuthError("This sign-in attempt is invalid or has expired (state mismatch). Start again.")
    meta = await _metadata(provider)
    try:
        async with _client(provider, row.redirect_uri) as client:
            await client.fetch_token(
                meta["token_endpoint"],
                code=code,
                code_verifier=row.code_verifier,
                headers={"Accept": "application/json"},
            )
            identity = await _identity(provider, meta, client)
    except PROVIDER_ERRORS as exc:
        raise AuthError(f"{provider.label} sign-in failed: {exc}. Try again.") from exc
    return await _sign_in(tctx, provider, identity)


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
            if not identity.email or not identity.email_verified:
                raise AuthError(
                    f"{provider.label} did not confirm a verified email address, so we cannot sign you in. "
                    "Verify your email with them, or sign up with a password."
                )
            user = await find_user(session, identity.email)
            action = "user.oauth_linked"
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
