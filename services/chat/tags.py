"""Tags: a user's labels; a conversation can have several."""

from __future__ import annotations

import uuid

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.exc import IntegrityError
from sqlmodel import col

from models import ConversationTag, Tag
from models.base import utcnow
from services.auth.roles import require
from services.chat.common import (
    MAX_TAG_CHARS,
    TAG_NOT_FOUND,
    TagInfo,
    check_tag,
    clean_name,
    load_conversation,
)
from services.context import Ctx
from services.db import tenant_session
from services.errors import NotFound, ValidationError


def _duplicate(name: str) -> ValidationError:
    return ValidationError(f"You already have a tag named “{name}”. Choose another name.")


async def create_tag(ctx: Ctx, name: str) -> TagInfo:
    require(ctx, "workspace.use")
    name = clean_name(name, "tag", MAX_TAG_CHARS)
    tag = TagInfo(id=uuid.uuid4(), name=name, created_at=utcnow())
    try:
        async with tenant_session(ctx.tenant_id) as session:
            await session.exec(
                insert(Tag).values(
                    id=tag.id,
                    tenant_id=ctx.tenant_id,
                    user_id=ctx.user_id,
                    name=name,
                    created_at=tag.created_at,
                )
            )
    except IntegrityError as exc:
        raise _duplicate(name) from exc
    return tag


async def rename_tag(ctx: Ctx, tag_id: uuid.UUID, name: str) -> TagInfo:
    require(ctx, "workspace.use")
    name = clean_name(name, "tag", MAX_TAG_CHARS)
    try:
        async with tenant_session(ctx.tenant_id) as session:
            row = (
                await session.execute(
                    update(Tag)
                    .where(col(Tag.id) == tag_id, col(Tag.user_id) == ctx.user_id)
                    .values(name=name)
                    .returning(col(Tag.id), col(Tag.name), col(Tag.created_at))
                )
            ).first()
            if row is None:
                raise NotFound(TAG_NOT_FOUND)
    except IntegrityError as exc:
        raise _duplicate(name) from exc
    return TagInfo(id=row.id, name=row.name, created_at=row.created_at)


async def delete_tag(ctx: Ctx, tag_id: uuid.UUID) -> None:
    """Delete a tag; the conversations it labelled stay."""
    require(ctx, "workspace.use")
    async with tenant_session(ctx.tenant_id) as session:
        result = await session.exec(delete(Tag).where(col(Tag.id) == tag_id, col(Tag.user_id) == ctx.user_id))
        if not result.rowcount:
            raise NotFound(TAG_NOT_FOUND)


async def list_tags(ctx: Ctx) -> list[TagInfo]:
    require(ctx, "workspace.use")
    async with tenant_session(ctx.tenant_id) as session:
        rows = await session.execute(
            select(col(Tag.id), col(Tag.name), col(Tag.created_at))
            .where(col(Tag.user_id) == ctx.user_id)
            .order_by(func.lower(col(Tag.name)), col(Tag.name))
        )
        return [TagInfo(id=r.id, name=r.name, created_at=r.created_at) for r in rows]


async def tag_conversation(ctx: Ctx, conversation_id: uuid.UUID, tag_id: uuid.UUID) -> None:
    """Label a conversation (no-op when it already has the tag)."""
    require(ctx, "workspace.use")
    async with tenant_session(ctx.tenant_id) as session:
        await load_conversation(session, ctx.user_id, conversation_id)
        await check_tag(session, ctx.user_id, tag_id)
        await session.exec(
            pg_insert(ConversationTag)
            .values(conversation_id=conversation_id, tag_id=tag_id, tenant_id=ctx.tenant_id)
            .on_conflict_do_nothing()
        )


async def untag_conversation(ctx: Ctx, conversation_id: uuid.UUID, tag_id: uuid.UUID) -> None:
    """Remove a label from a conversation (no-op when it does not have it)."""
    require(ctx, "workspace.use")
    async with tenant_session(ctx.tenant_id) as session:
        await load_conversation(session, ctx.user_id, conversation_id)
        await check_tag(session, ctx.user_id, tag_id)
        await session.exec(
            delete(ConversationTag).where(
                col(ConversationTag.conversation_id) == conversation_id, col(ConversationTag.tag_id) == tag_id
            )
        )
