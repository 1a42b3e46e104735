"""Plain data the chat services return, limits, validation, and the ownership checks they share.

Every query runs in `tenant_session(ctx.tenant_id)` (row-level security) and is also scoped to `ctx.user_id`:
another user's conversation is reported as not found, never as forbidden, so ids leak nothing.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Insert, func, insert, select
from sqlalchemy.engine import Row
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from models import Conversation, ConversationTag, Folder, Message, Tag
from services.errors import NotFound, ValidationError

MAX_MESSAGE_CHARS = 100_000  # what a user may send in one message
MAX_TITLE_CHARS = 300
MAX_FOLDER_CHARS = 100
MAX_TAG_CHARS = 50
MAX_ERROR_CHARS = 2000
DEFAULT_TITLE = "New chat"

CONVERSATION_NOT_FOUND = "That conversation does not exist (it may have been deleted)."
MESSAGE_NOT_FOUND = "That message is not part of this conversation (it may have been deleted)."
FOLDER_NOT_FOUND = "That folder does not exist (it may have been deleted)."
TAG_NOT_FOUND = "That tag does not exist (it may have been deleted)."


@dataclass(frozen=True, slots=True)
class ConversationInfo:
    id: uuid.UUID
    title: str
    provider: str
    model: str
    folder_id: uuid.UUID | None
    pinned: bool
    archived: bool
    created_at: datetime
    updated_at: datetime  # last activity
    current_leaf_id: uuid.UUID | None  # the message whose branch is shown
    tag_ids: tuple[uuid.UUID, ...] = ()
    agent_id: uuid.UUID | None = None  # the agent it chats with (None: plain chat)
    agent_version: int | None = None  # the agent's version when the chat started


@dataclass(frozen=True, slots=True)
class MessageInfo:
    id: uuid.UUID
    conversation_id: uuid.UUID
    parent_id: uuid.UUID | None
    role: str  # user | assistant | system | tool
    text: str
    content_parts: tuple[dict[str, Any], ...]
    status: str  # complete | unfinished | error
    error_text: str
    provider: str
    model: str
    prompt_tokens: int | None
    completion_tokens: int | None
    ttft_ms: int | None
    duration_ms: int | None
    created_at: datetime


@dataclass(frozen=True, slots=True)
class FolderInfo:
    id: uuid.UUID
    name: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class TagInfo:
    id: uuid.UUID
    name: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class ConversationFilters:
    """Which conversations a list or a search covers. `None` means "either"."""

    archived: bool | None = False
    folder_id: uuid.UUID | None = None
    tag_id: uuid.UUID | None = None
    pinned: bool | None = None


# Columns and row mapping -----------------------------------------------------------------------------------

TAG_IDS = (
    select(func.array_agg(ConversationTag.tag_id))
    .where(col(ConversationTag.conversation_id) == col(Conversation.id))
    .correlate(Conversation)
    .scalar_subquery()
    .label("tag_ids")
)

CONVERSATION_COLUMNS = (
    col(Conversation.id),
    col(Conversation.title),
    col(Conversation.provider),
    col(Conversation.model),
    col(Conversation.folder_id),
    col(Conversation.pinned),
    col(Conversation.archived),
    col(Conversation.created_at),
    col(Conversation.updated_at),
    col(Conversation.current_leaf_id),
    col(Conversation.agent_id),
    col(Conversation.agent_version),
    TAG_IDS,
)

MESSAGE_COLUMNS = (
    col(Message.id),
    col(Message.conversation_id),
    col(Message.parent_id),
    col(Message.role),
    col(Message.text),
    col(Message.content_parts),
    col(Message.status),
    col(Message.error_text),
    col(Message.provider),
    col(Message.model),
    col(Message.prompt_tokens),
    col(Message.completion_tokens),
    col(Message.ttft_ms),
    col(Message.duration_ms),
    col(Message.created_at),
)


def conversation_info(row: Row[Any]) -> ConversationInfo:
    return ConversationInfo(
        id=row.id,
        title=row.title,
        provider=row.provider,
        model=row.model,
        folder_id=row.folder_id,
        pinned=row.pinned,
        archived=row.archived,
        created_at=row.created_at,
        updated_at=row.updated_at,
        current_leaf_id=row.current_leaf_id,
        tag_ids=tuple(sorted(row.tag_ids or ())),
        agent_id=row.agent_id,
        agent_version=row.agent_version,
    )


def message_info(row: Row[Any] | dict[str, Any]) -> MessageInfo:
    get = row.__getitem__ if isinstance(row, dict) else row._mapping.__getitem__
    return MessageInfo(
        id=get("id"),
        conversation_id=get("conversation_id"),
        parent_id=get("parent_id"),
        role=get("role"),
        text=get("text"),
        content_parts=tuple(get("content_parts") or ()),
        status=get("status"),
        error_text=get("error_text"),
        provider=get("provider"),
        model=get("model"),
        prompt_tokens=get("prompt_tokens"),
        completion_tokens=get("completion_tokens"),
        ttft_ms=get("ttft_ms"),
        duration_ms=get("duration_ms"),
        created_at=get("created_at"),
    )


# Loading with ownership --------------------------------------------------------------------------------------


async def load_conversation(
    session: AsyncSession, user_id: uuid.UUID, conversation_id: uuid.UUID, *, lock: bool = False
) -> ConversationInfo:
    stmt = select(*CONVERSATION_COLUMNS).where(
        col(Conversation.id) == conversation_id, col(Conversation.user_id) == user_id
    )
    if lock:
        stmt = stmt.with_for_update(of=Conversation)
    row = (await session.execute(stmt)).first()
    if row is None:
        raise NotFound(CONVERSATION_NOT_FOUND)
    return conversation_info(row)


async def check_folder(session: AsyncSession, user_id: uuid.UUID, folder_id: uuid.UUID) -> None:
    found = await session.scalar(
        select(col(Folder.id)).where(col(Folder.id) == folder_id, col(Folder.user_id) == user_id)
    )
    if found is None:
        raise NotFound(FOLDER_NOT_FOUND)


async def check_tag(session: AsyncSession, user_id: uuid.UUID, tag_id: uuid.UUID) -> None:
    found = await session.scalar(
        select(col(Tag.id)).where(col(Tag.id) == tag_id, col(Tag.user_id) == user_id)
    )
    if found is None:
        raise NotFound(TAG_NOT_FOUND)


# Validation --------------------------------------------------------------------------------------------------


def strip_nul(value: str) -> str:
    """Postgres text cannot hold NUL characters; they carry no meaning in chat text anyway."""
    return value.replace("\x00", "") if "\x00" in value else value


def clean_json(value: Any) -> Any:
    """JSON for a jsonb column: NUL characters removed from every string (jsonb refuses \\u0000)."""
    if isinstance(value, str):
        return strip_nul(value)
    if isinstance(value, list):
        return [clean_json(v) for v in value]
    if isinstance(value, dict):
        return {strip_nul(str(k)): clean_json(v) for k, v in value.items()}
    return value


def one_line(value: str) -> str:
    return " ".join(strip_nul(value).split())


def clean_name(value: str, what: str, limit: int) -> str:
    name = one_line(value)
    if not name:
        raise ValidationError(f"Give the {what} a name.")
    if len(name) > limit:
        raise ValidationError(f"That {what} name is too long ({limit} characters at most).")
    return name


def clean_title(value: str) -> str:
    title = one_line(value)
    if not title:
        raise ValidationError("A conversation needs a title.")
    if len(title) > MAX_TITLE_CHARS:
        raise ValidationError(f"That title is too long ({MAX_TITLE_CHARS} characters at most).")
    return title


def page_size_ok(page_size: int, limit: int = 200) -> int:
    if not 1 <= page_size <= limit:
        raise ValidationError(f"Ask for between 1 and {limit} items at a time.")
    return page_size


def clean_model(provider: str, model: str) -> tuple[str, str]:
    provider, model = provider.strip(), model.strip()
    if len(provider) > 40:
        raise ValidationError("That provider name is too long (40 characters at most).")
    if len(model) > 200:
        raise ValidationError("That model name is too long (200 characters at most).")
    return provider, model


def insert_conversation(
    tenant_id: uuid.UUID,
    user_id: uuid.UUID,
    conversation_id: uuid.UUID,
    *,
    title: str,
    provider: str,
    model: str,
    now: datetime,
    folder_id: uuid.UUID | None = None,
    agent_id: uuid.UUID | None = None,
    agent_version: int | None = None,
) -> Insert:
    """The one INSERT of a new conversation (values already cleaned)."""
    return insert(Conversation).values(
        agent_id=agent_id,
        agent_version=agent_version,
        id=conversation_id,
        tenant_id=tenant_id,
        user_id=user_id,
        title=title,
        provider=provider,
        model=model,
        folder_id=folder_id,
        pinned=False,
        archived=False,
        created_at=now,
        updated_at=now,
    )
