"""Tags: a user's labels; a conversation can have several."""

from __future__ import annotations

import uuid

from sqlalchemy import delete, func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlmodel import col

from models import ConversationTag, Tag
from services.auth.roles import require
from services.chat import labels
from services.chat.common import (
    MAX_TAG_CHARS,
    TAG_NOT_FOUND,
    TagInfo,
    check_tag,
    load_conversation,
)
from services.context import Ctx
from services.db import tenant_session

TAGS = labels.LabelKind(Tag, TagInfo, "tag", MAX_TAG_CHARS, TAG_NOT_FOUND)


async def create_tag(ctx: Ctx, name: str) -> TagInfo:
    return await labels.create(TAGS, ctx, name)


async def rename_tag(ctx: Ctx, tag_id: uuid.UUID, name: str) -> TagInfo:
    return await labels.rename(TAGS, ctx, tag_id, name)


async def delete_tag(ctx: Ctx, tag_id: uuid.UUID) -> None:
    """Delete a tag; the conversations it labelled stay."""
    await labels.remove(TAGS, ctx, tag_id)


async def list_tags(ctx: Ctx) -> list[TagInfo]:
    return await labels.list_all(TAGS, ctx)


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


async def tag_usage(ctx: Ctx) -> dict[uuid.UUID, int]:
    """How many of the user's conversations (archived ones too) carry each of their tags; unused tags are
    left out."""
    require(ctx, "workspace.use")
    tag = col(ConversationTag.tag_id)
    async with tenant_session(ctx.tenant_id) as session:
        rows = await session.execute(
            select(tag, func.count())
            .join(Tag, col(Tag.id) == tag)
            .where(col(Tag.user_id) == ctx.user_id)
            .group_by(tag)
        )
        return {r[0]: int(r[1]) for r in rows}
