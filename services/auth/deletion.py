"""A member deletes their own account, and everything that is theirs with it.

Deleting the `users` row cascades (every foreign key to users is ON DELETE CASCADE, or SET NULL where the row is
the workspace's: the audit log, invitations sent): sessions, sign-in links, conversations and messages, folders and
tags, files with their text and embeddings, personal collections, private agents, memories with their embeddings and extraction
records, usage records. The stored blobs of their files are deleted after the rows (a blob that cannot be is
logged for the operator), and their background jobs (`jobs` has no foreign key) are dropped, but for one running now (it finds its rows gone).

The last owner of a workspace cannot leave it ownerless: another member must be made an owner first.
"""

from __future__ import annotations

import logging

from sqlalchemy import delete, select, text
from sqlmodel import col

from models import StoredFile, User
from services.auth import audit, policy
from services.auth.roles import require
from services.context import Ctx
from services.db import global_session, tenant_session
from services.errors import NotFound, ValidationError
from services.files.storage import get_storage

log = logging.getLogger("solo.auth")

LAST_OWNER = (
    "You are this workspace's only owner: make another member an owner on the Members page first, then delete "
    "your account."
)


async def delete_account(ctx: Ctx, confirm_email: str) -> int:
    """Delete the signed-in member's account once they typed their email address; how many file blobs went."""
    require(ctx, "settings.own")
    async with tenant_session(ctx.tenant_id) as session:
        await policy.lock_tenant_users(session, ctx.tenant_id)  # no owner count race with a role change
        user = await session.get(User, ctx.user_id, with_for_update=True)
        if user is None:
            raise NotFound("Your account no longer exists.")
        if " ".join(confirm_email.split()).lower() != user.email:
            raise ValidationError("Type your email address exactly as shown to confirm. Nothing was deleted.")
        if user.role == "owner":
            owners = (
                await session.execute(
                    text(
                        "SELECT count(*) FROM users WHERE role = 'owner' AND status = 'active' AND id <> :u"
                    ),
                    {"u": user.id},
                )
            ).scalar_one()
            if owners == 0:
                raise ValidationError(LAST_OWNER)
        keys = list(
            (
                await session.execute(
                    select(col(StoredFile.storage_key)).where(col(StoredFile.user_id) == user.id)
                )
            ).scalars()
        )
        # Their private agents are nobody else's (shared ones stay the workspace's, without an author).
        await session.execute(
            text("DELETE FROM agents WHERE author_id = :u AND visibility = 'private'"), {"u": user.id}
        )
        await session.execute(delete(User).where(col(User.id) == user.id))
        audit.record(session, ctx.tenant_id, "user.deleted", ip=ctx.ip, user_id=str(user.id), files=len(keys))
    async with global_session() as session:
        await session.execute(
            text("DELETE FROM jobs WHERE user_id = :u AND status <> 'running'"), {"u": ctx.user_id}
        )
    storage = get_storage()
    for key in keys:
        try:
            await storage.delete(key)
        except Exception:  # the rows are gone; an orphan blob is the operator's to sweep
            log.exception("could not delete the blob %s of a deleted account", key)
    return len(keys)
