"""A signed-in user's connected sign-in providers: list them, disconnect one.

Connecting happens through the OAuth flow in link mode (`oauth.start(..., link_user_id=...)`). Disconnecting
never leaves an account without a way in: the last identity of an account without a password stays.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlmodel import select

from models import OAuthAccount, User
from services.auth import audit, oauth
from services.auth.roles import require
from services.context import Ctx
from services.db import tenant_session
from services.errors import NotFound, ValidationError

MSG_LAST_WAY_IN = (
    "This is your only way to sign in. Set a password (Settings > Password) or connect another provider "
    "before disconnecting it."
)


@dataclass(frozen=True, slots=True)
class ConnectedAccount:
    id: uuid.UUID
    provider: str
    label: str
    email: str


def _label(provider_id: str) -> str:
    labels = {p.id: p.label for p in oauth.configured_providers()}
    return labels.get(provider_id, provider_id)


async def list_connected(ctx: Ctx) -> list[ConnectedAccount]:
    require(ctx, "settings.own")
    async with tenant_session(ctx.tenant_id) as session:
        rows = (
            await session.exec(
                select(OAuthAccount)
                .where(OAuthAccount.user_id == ctx.user_id)
                .order_by(OAuthAccount.provider, OAuthAccount.created_at)  # type: ignore[arg-type]
            )
        ).all()
    return [ConnectedAccount(r.id, r.provider, _label(r.provider), r.email) for r in rows]


async def unlink(ctx: Ctx, account_id: uuid.UUID) -> None:
    """Disconnect one of the caller's own identities, unless it is their last way to sign in."""
    require(ctx, "settings.own")
    async with tenant_session(ctx.tenant_id) as session:
        # Lock the user row: two concurrent unlinks cannot both see "another way in" and remove both.
        user = await session.get(User, ctx.user_id, with_for_update=True)
        row = await session.get(OAuthAccount, account_id)
        if user is None or row is None or row.user_id != ctx.user_id:
            raise NotFound("That connected account was not found.")
        others = (
            await session.exec(
                select(OAuthAccount.id).where(OAuthAccount.user_id == ctx.user_id, OAuthAccount.id != row.id)
            )
        ).all()
        if not user.password_hash and not others:
            raise ValidationError(MSG_LAST_WAY_IN)
        await session.delete(row)
        audit.record(
            session,
            ctx.tenant_id,
            "user.oauth_unlinked",
            actor=ctx.user_id,
            target=ctx.user_id,
            ip=ctx.ip,
            provider=row.provider,
        )
