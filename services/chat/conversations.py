"""Conversations: create, read, rename, pin, archive, folders, model, delete, and the sidebar list."""

from __future__ import annotations

import base64
import binascii
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import delete, exists, select, tuple_, update
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import col

from models import Conversation, ConversationTag
from models.base import utcnow
from services.auth.roles import require
from services.chat.common import (
    CONVERSATION_COLUMNS,
    CONVERSATION_NOT_FOUND,
    DEFAULT_TITLE,
    MAX_TITLE_CHARS,
    ConversationFilters,
    ConversationInfo,
    check_folder,
    clean_model,
    clean_title,
    conversation_info,
    insert_conversation,
    load_conversation,
    one_line,
    page_size_ok,
)
from services.context import Ctx
from services.db import tenant_session
from services.errors import NotFound, ValidationError

# Sidebar groups, in display order.
PINNED = "Pinned"
TODAY = "Today"
YESTERDAY = "Yesterday"
PREVIOUS_7_DAYS = "Previous 7 days"
OLDER = "Older"
GROUP_ORDER = (PINNED, TODAY, YESTERDAY, PREVIOUS_7_DAYS, OLDER)


@dataclass(frozen=True, slots=True)
class ConversationPage:
    items: tuple[ConversationInfo, ...]
    next_cursor: str | None  # pass it back for the next page; None on the last page


@dataclass(frozen=True, slots=True)
class SidebarGroup:
    label: str
    items: tuple[ConversationInfo, ...]


def filter_clauses(user_id: uuid.UUID, filters: ConversationFilters) -> list[ColumnElement[bool]]:
    clauses: list[ColumnElement[bool]] = [col(Conversation.user_id) == user_id]
    if filters.archived is not None:
        clauses.append(col(Conversation.archived) == filters.archived)
    if filters.pinned is not None:
        clauses.append(col(Conversation.pinned) == filters.pinned)
    if filters.folder_id is not None:
        clauses.append(col(Conversation.folder_id) == filters.folder_id)
    if filters.tag_id is not None:
        clauses.append(
            exists().where(
                col(ConversationTag.conversation_id) == col(Conversation.id),
                col(ConversationTag.tag_id) == filters.tag_id,
            )
        )
    return clauses


# Titles -----------------------------------------------------------------------------------------------------

_MARKUP = re.compile(r"[`*_#>\[\]|~]+")


def fallback_title(text: str, *, max_words: int = 8, max_chars: int = 60) -> str:
    """A title from the first words of a message, until a model (or the user) names the conversation."""
    words = _MARKUP.sub(" ", text).split()
    if not words:
        return DEFAULT_TITLE
    title = " ".join(words[:max_words])
    if len(title) > max_chars:
        cut = title[: max_chars - 1]
        space = cut.rfind(" ")
        title = (cut[:space] if space >= max_chars // 2 else cut).rstrip(" ,.;:-") + "…"
    elif len(words) > max_words:
        title = title.rstrip(" ,.;:-") + "…"
    return title


# One conversation ---------------------------------------------------------------------------------------------


async def create_conversation(
    ctx: Ctx,
    *,
    title: str = "",
    provider: str = "",
    model: str = "",
    folder_id: uuid.UUID | None = None,
) -> ConversationInfo:
    require(ctx, "workspace.use")
    title = clean_title(title) if title.strip() else DEFAULT_TITLE
    provider, model = clean_model(provider, model)
    now = utcnow()
    conversation_id = uuid.uuid4()
    async with tenant_session(ctx.tenant_id) as session:
        if folder_id is not None:
            await check_folder(session, ctx.user_id, folder_id)
        await session.exec(
            insert_conversation(
                ctx.tenant_id, ctx.user_id, conversation_id, title=title, provider=provider, model=model,
                now=now, folder_id=folder_id,
            )
        )  # fmt: skip
    return ConversationInfo(
        id=conversation_id,
        title=title,
        provider=provider,
        model=model,
        folder_id=folder_id,
        pinned=False,
        archived=False,
        created_at=now,
        updated_at=now,
        current_leaf_id=None,
    )


async def get_conversation(ctx: Ctx, conversation_id: uuid.UUID) -> ConversationInfo:
    require(ctx, "workspace.use")
    async with tenant_session(ctx.tenant_id) as session:
        return await load_conversation(session, ctx.user_id, conversation_id)


async def _update(ctx: Ctx, conversation_id: uuid.UUID, **values: Any) -> ConversationInfo:
    async with tenant_session(ctx.tenant_id) as session:
        folder_id = values.get("folder_id")
        if folder_id is not None:
            await check_folder(session, ctx.user_id, folder_id)
        result = await session.exec(
            update(Conversation)
            .where(col(Conversation.id) == conversation_id, col(Conversation.user_id) == ctx.user_id)
            .values(**values)
        )
        if not result.rowcount:
            raise NotFound(CONVERSATION_NOT_FOUND)
        return await load_conversation(session, ctx.user_id, conversation_id)


async def rename_conversation(ctx: Ctx, conversation_id: uuid.UUID, title: str) -> ConversationInfo:
    """The user renames a conversation. Renaming is not activity: the sidebar order stays."""
    require(ctx, "workspace.use")
    return await _update(ctx, conversation_id, title=clean_title(title))


async def set_title(ctx: Ctx, conversation_id: uuid.UUID, title: str) -> ConversationInfo:
    """Set a generated title (from a model or `fallback_title`): cleaned and shortened rather than refused."""
    require(ctx, "workspace.use")
    cleaned = one_line(title).strip("\"'“”‘’` ")
    if len(cleaned) > MAX_TITLE_CHARS:
        cleaned = cleaned[: MAX_TITLE_CHARS - 1].rstrip() + "…"
    return await _update(ctx, conversation_id, title=cleaned or DEFAULT_TITLE)


async def set_pinned(ctx: Ctx, conversation_id: uuid.UUID, pinned: bool) -> ConversationInfo:
    require(ctx, "workspace.use")
    return await _update(ctx, conversation_id, pinned=bool(pinned))


async def set_archived(ctx: Ctx, conversation_id: uuid.UUID, archived: bool) -> ConversationInfo:
    require(ctx, "workspace.use")
    return await _update(ctx, conversation_id, archived=bool(archived))


async def move_to_folder(
    ctx: Ctx, conversation_id: uuid.UUID, folder_id: uuid.UUID | None
) -> ConversationInfo:
    """Put a conversation in one of the user's folders, or take it out of its folder (`None`)."""
    require(ctx, "workspace.use")
    return await _update(ctx, conversation_id, folder_id=folder_id)


async def set_model(ctx: Ctx, conversation_id: uuid.UUID, provider: str, model: str) -> ConversationInfo:
    """Remember the provider and model a conversation uses (the next reply uses them)."""
    require(ctx, "workspace.use")
    provider, model = clean_model(provider, model)
    return await _update(ctx, conversation_id, provider=provider, model=model)


async def delete_conversation(ctx: Ctx, conversation_id: uuid.UUID) -> None:
    """Delete a conversation with its messages and tags. Its usage records stay (unlinked) for accounting."""
    require(ctx, "workspace.use")
    async with tenant_session(ctx.tenant_id) as session:
        result = await session.exec(
            delete(Conversation).where(
                col(Conversation.id) == conversation_id, col(Conversation.user_id) == ctx.user_id
            )
        )
        if not result.rowcount:
            raise NotFound(CONVERSATION_NOT_FOUND)


# The sidebar --------------------------------------------------------------------------------------------------


def encode_cursor(item: ConversationInfo) -> str:
    raw = f"{int(item.pinned)}|{item.updated_at.isoformat()}|{item.id}"
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[bool, datetime, uuid.UUID]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        pinned, updated_at, conversation_id = raw.split("|")
        when = datetime.fromisoformat(updated_at)
        if pinned not in ("0", "1") or when.tzinfo is None:
            raise ValueError(raw)
        return pinned == "1", when, uuid.UUID(conversation_id)
    except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
        raise ValidationError("That page of conversations is no longer valid: reload the list.") from exc


async def list_conversations(
    ctx: Ctx,
    filters: ConversationFilters | None = None,
    *,
    cursor: str | None = None,
    page_size: int = 50,
) -> ConversationPage:
    """One page of the user's conversations: pinned first, then by last activity (newest first), then id.

    Keyset pagination: a page starts strictly after the cursor's (pinned, updated_at, id), so conversations
    created or moved to the top while the user scrolls never duplicate or push items off later pages.
    """
    require(ctx, "workspace.use")
    filters = filters or ConversationFilters()
    page_size = page_size_ok(page_size)
    stmt = select(*CONVERSATION_COLUMNS).where(*filter_clauses(ctx.user_id, filters))
    if cursor:
        pinned, updated_at, after_id = decode_cursor(cursor)
        stmt = stmt.where(
            tuple_(col(Conversation.pinned), col(Conversation.updated_at), col(Conversation.id))
            < tuple_(pinned, updated_at, after_id)
        )
    stmt = stmt.order_by(
        col(Conversation.pinned).desc(), col(Conversation.updated_at).desc(), col(Conversation.id).desc()
    ).limit(page_size + 1)
    async with tenant_session(ctx.tenant_id) as session:
        rows = (await session.execute(stmt)).all()
    items = tuple(conversation_info(r) for r in rows[:page_size])
    more = len(rows) > page_size
    return ConversationPage(items=items, next_cursor=encode_cursor(items[-1]) if more and items else None)


def group_by_day(
    items: Sequence[ConversationInfo], *, now: datetime, utc_offset_minutes: int = 0
) -> list[SidebarGroup]:
    """Sidebar sections: Pinned, Today, Yesterday, Previous 7 days, Older (empty ones left out).

    Days are the user's calendar days: `utc_offset_minutes` is minutes east of UTC (in a browser,
    `-new Date().getTimezoneOffset()`). Items keep their order within a group.
    """
    offset = timedelta(minutes=utc_offset_minutes)

    def local_day(moment: datetime) -> date:
        moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
        return (moment.replace(tzinfo=None) + offset).date()

    today = local_day(now)
    groups: dict[str, list[ConversationInfo]] = {label: [] for label in GROUP_ORDER}
    for item in items:
        if item.pinned:
            groups[PINNED].append(item)
            continue
        age = (today - local_day(item.updated_at)).days
        label = TODAY if age <= 0 else YESTERDAY if age == 1 else PREVIOUS_7_DAYS if age <= 7 else OLDER
        groups[label].append(item)
    return [SidebarGroup(label, tuple(groups[label])) for label in GROUP_ORDER if groups[label]]
