"""Messages: adding user messages and finished replies, reading the tree, switching branches.

Streaming a reply holds no database session across the model call: the caller stores the user message
(`add_user_message`), streams, then stores the reply once (`save_assistant_message`) with its usage, whatever
the outcome (complete, unfinished after a stop or a dropped stream, error).

Adding a message is one INSERT plus one UPDATE of its conversation (last activity, visible branch): its cost
does not depend on the length of the conversation. Editing a message means adding a sibling (same parent);
regenerating a reply means saving another reply to the same user message. Old branches stay.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, exists, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import aliased
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from models import MESSAGE_STATUSES, Conversation, Message, MessageCitation, MessageFile, UsageRecord
from models.base import utcnow
from services.auth.roles import require
from services.chat.common import (
    CONVERSATION_NOT_FOUND,
    DEFAULT_TITLE,
    MAX_ERROR_CHARS,
    MAX_MESSAGE_CHARS,
    MESSAGE_COLUMNS,
    MESSAGE_NOT_FOUND,
    ConversationInfo,
    MessageInfo,
    clean_json,
    clean_model,
    insert_conversation,
    load_conversation,
    message_info,
    strip_nul,
)
from services.chat.path import deepest_below
from services.chat.tree import PathStep, branch_path
from services.context import Ctx
from services.db import tenant_session
from services.errors import NotFound, ValidationError


@dataclass(frozen=True, slots=True)
class ConversationTree:
    conversation: ConversationInfo
    messages: tuple[MessageInfo, ...]  # every branch, oldest first

    def path(self, leaf_id: uuid.UUID | None = None) -> list[PathStep]:
        """The visible branch (the conversation's current one unless `leaf_id` is given)."""
        return branch_path(self.messages, leaf_id or self.conversation.current_leaf_id)


def clean_user_text(text: str) -> str:
    text = strip_nul(text).rstrip().lstrip("\r\n")
    if not text.strip():
        raise ValidationError("Write a message first: it is empty.")
    if len(text) > MAX_MESSAGE_CHARS:
        raise ValidationError(
            f"That message is too long: {len(text):,} characters, the limit is {MAX_MESSAGE_CHARS:,}. "
            "Shorten it or split it into several messages."
        )
    return text


def _count(name: str, value: int | None) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValidationError(f"{name} must be a whole number of at least 0.")
    return value


def _parts(content_parts: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    parts = clean_json(list(content_parts))
    if not all(isinstance(p, dict) for p in parts):
        raise ValidationError("Each content part must be an object.")
    return parts


async def _append(session: AsyncSession, ctx: Ctx, values: dict[str, Any]) -> None:
    """Write one message: touch its conversation (ownership check, activity, visible branch), then INSERT.

    The conversation's pointer to the new message is a deferred foreign key, checked at commit.
    """
    touched = await session.exec(
        update(Conversation)
        .where(col(Conversation.id) == values["conversation_id"], col(Conversation.user_id) == ctx.user_id)
        .values(updated_at=values["created_at"], current_leaf_id=values["id"])
    )
    if not touched.rowcount:
        raise NotFound(CONVERSATION_NOT_FOUND)
    try:
        await session.exec(insert(Message).values(tenant_id=ctx.tenant_id, **values))
    except IntegrityError as exc:
        constraint = getattr(getattr(exc.orig, "diag", None), "constraint_name", None)
        if constraint == "fk_messages_parent":  # the parent is not a message of this conversation
            raise NotFound(MESSAGE_NOT_FOUND) from exc
        raise
    await _link_files(session, ctx, values["id"], values["content_parts"])


def _uuid(value: Any) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value)) if value else None
    except ValueError:
        return None


async def _link_files(
    session: AsyncSession, ctx: Ctx, message_id: uuid.UUID, parts: list[dict[str, Any]]
) -> None:
    """Index the files a message attaches and cites (the callers checked the user may read them), so deleting a
    file finds the messages that name it (their parts then lose the link, keep the name)."""
    files = [p for p in parts if p.get("type") == "file" and _uuid(p.get("file_id"))]
    cited = [p for p in parts if p.get("type") == "citation" and isinstance(p.get("n"), int)]
    if files:
        await session.exec(
            insert(MessageFile).values(
                [
                    {
                        "tenant_id": ctx.tenant_id,
                        "message_id": message_id,
                        "ordinal": i,
                        "file_id": _uuid(p["file_id"]),
                        "name": str(p.get("name") or "file")[:200],
                        "kind": str(p.get("kind") or "")[:10],
                        "size_bytes": int(p.get("size") or 0),
                    }
                    for i, p in enumerate(files)
                ]
            )
        )
    if cited:
        await session.exec(
            insert(MessageCitation).values(
                [
                    {
                        "tenant_id": ctx.tenant_id,
                        "message_id": message_id,
                        "number": p["n"],
                        "file_id": _uuid(p.get("file_id")),
                        "chunk_id": _uuid(p.get("chunk_id")),
                        "name": str(p.get("name") or "file")[:200],
                        "page": p.get("page") if isinstance(p.get("page"), int) else None,
                        "heading": str(p.get("heading") or "")[:300],
                        "snippet": str(p.get("snippet") or "")[:600],
                    }
                    for p in {c["n"]: c for c in cited}.values()
                ]
            )
        )


def _values(
    conversation_id: uuid.UUID,
    parent_id: uuid.UUID | None,
    role: str,
    text: str,
    content_parts: list[dict[str, Any]],
    **extra: Any,
) -> dict[str, Any]:
    values: dict[str, Any] = {
        "id": uuid.uuid4(),
        "conversation_id": conversation_id,
        "parent_id": parent_id,
        "role": role,
        "text": text,
        "content_parts": content_parts,
        "status": "complete",
        "error_text": "",
        "provider": "",
        "model": "",
        "prompt_tokens": None,
        "completion_tokens": None,
        "ttft_ms": None,
        "duration_ms": None,
        "created_at": utcnow(),
    }
    values.update(extra)
    return values


async def add_user_message(
    ctx: Ctx,
    conversation_id: uuid.UUID,
    parent_id: uuid.UUID | None,
    text: str,
    *,
    content_parts: Sequence[dict[str, Any]] = (),
    message_id: uuid.UUID | None = None,
) -> MessageInfo:
    """Store what the user wrote, as a child of `parent_id` (None: a first message).

    To edit a message, add the new text with the edited message's parent: it becomes a sibling branch.
    `message_id` lets the caller choose the id (so it can start the model call while this INSERT runs).
    """
    require(ctx, "workspace.use")
    values = _values(conversation_id, parent_id, "user", clean_user_text(text), _parts(content_parts))
    if message_id is not None:
        values["id"] = message_id
    async with tenant_session(ctx.tenant_id) as session:
        await _append(session, ctx, values)
    return message_info(values)


async def start_conversation(
    ctx: Ctx,
    conversation_id: uuid.UUID,
    message_id: uuid.UUID,
    text: str,
    *,
    provider: str = "",
    model: str = "",
    content_parts: Sequence[dict[str, Any]] = (),
    agent_id: uuid.UUID | None = None,
    agent_version: int | None = None,
) -> MessageInfo:
    """A new conversation and its first user message, in one transaction, with ids the caller chose.
    `agent_id`: the agent it chats with (the caller checked the member may use it).

    The caller picks the ids so that it can show the conversation and ask the model at once, while this
    runs. If it fails nothing is stored.
    """
    require(ctx, "workspace.use")
    provider, model = clean_model(provider, model)
    values = _values(
        conversation_id, None, "user", clean_user_text(text), _parts(content_parts), id=message_id
    )
    async with tenant_session(ctx.tenant_id) as session:
        await session.exec(
            insert_conversation(
                ctx.tenant_id, ctx.user_id, conversation_id, title=DEFAULT_TITLE, provider=provider,
                model=model, now=values["created_at"], agent_id=agent_id, agent_version=agent_version,
            )
        )  # fmt: skip
        await _append(session, ctx, values)
    return message_info(values)


async def save_assistant_message(
    ctx: Ctx,
    conversation_id: uuid.UUID,
    parent_id: uuid.UUID | None,
    text: str,
    *,
    status: str = "complete",
    error_text: str = "",
    provider: str = "",
    model: str = "",
    prompt_tokens: int | None = None,
    completion_tokens: int | None = None,
    ttft_ms: int | None = None,
    duration_ms: int | None = None,
    content_parts: Sequence[dict[str, Any]] = (),
    replaces: uuid.UUID | None = None,
) -> MessageInfo:
    """Store a reply once, when the stream has ended, with a usage record in the same transaction.

    `status`: "complete"; "unfinished" (stopped, disconnected, cut short: `text` is the partial reply);
    "error" (the provider failed: `error_text` says why, `text` keeps whatever arrived before).
    To regenerate a reply, save the new one with the same `parent_id`: it becomes a sibling.
    `replaces`: a failed reply to the same message that Retry answers again. It is deleted in the same
    transaction when it has no text and no children (nothing is lost); otherwise it stays as an older version.
    """
    require(ctx, "workspace.use")
    if status not in MESSAGE_STATUSES:
        raise ValidationError(f"A reply's status must be one of: {', '.join(MESSAGE_STATUSES)}.")
    extra = {
        "status": status,
        "error_text": strip_nul(error_text)[:MAX_ERROR_CHARS],
        "provider": provider.strip()[:40],
        "model": model.strip()[:200],
        "prompt_tokens": _count("prompt_tokens", prompt_tokens),
        "completion_tokens": _count("completion_tokens", completion_tokens),
        "ttft_ms": _count("ttft_ms", ttft_ms),
        "duration_ms": _count("duration_ms", duration_ms),
    }
    values = _values(conversation_id, parent_id, "assistant", strip_nul(text), _parts(content_parts), **extra)
    async with tenant_session(ctx.tenant_id) as session:
        await _append(session, ctx, values)
        if replaces is not None and replaces != values["id"]:
            await _drop_failed(session, conversation_id, parent_id, replaces)
        await session.exec(
            insert(UsageRecord).values(
                id=uuid.uuid4(),
                tenant_id=ctx.tenant_id,
                user_id=ctx.user_id,
                conversation_id=conversation_id,
                message_id=values["id"],
                provider=values["provider"],
                model=values["model"],
                prompt_tokens=values["prompt_tokens"] or 0,
                completion_tokens=values["completion_tokens"] or 0,
                created_at=values["created_at"],
            )
        )
    return message_info(values)


async def _drop_failed(
    session: AsyncSession, conversation_id: uuid.UUID, parent_id: uuid.UUID | None, message_id: uuid.UUID
) -> None:
    """Delete a failed, empty reply to `parent_id` (its conversation's ownership was checked by `_append`)."""
    child = aliased(Message)
    await session.exec(
        delete(Message).where(
            col(Message.id) == message_id,
            col(Message.conversation_id) == conversation_id,
            col(Message.parent_id) == parent_id
            if parent_id is not None
            else col(Message.parent_id).is_(None),
            col(Message.role) == "assistant",
            col(Message.status) == "error",
            col(Message.text) == "",
            ~exists().where(
                col(child.conversation_id) == conversation_id, col(child.parent_id) == message_id
            ),
        )
    )


async def _messages(session: AsyncSession, conversation_id: uuid.UUID) -> tuple[MessageInfo, ...]:
    rows = await session.execute(
        select(*MESSAGE_COLUMNS)
        .where(col(Message.conversation_id) == conversation_id)
        .order_by(col(Message.created_at), col(Message.id))
    )
    return tuple(message_info(r) for r in rows)


async def get_tree(ctx: Ctx, conversation_id: uuid.UUID) -> ConversationTree:
    """The conversation and all its messages (every branch). `tree.path()` is the branch to show."""
    require(ctx, "workspace.use")
    async with tenant_session(ctx.tenant_id) as session:
        conversation = await load_conversation(session, ctx.user_id, conversation_id)
        return ConversationTree(conversation, await _messages(session, conversation_id))


async def select_sibling(ctx: Ctx, conversation_id: uuid.UUID, message_id: uuid.UUID) -> uuid.UUID:
    """Show the branch through `message_id` (a `< 2/3 >` click, or a search hit): the conversation's visible
    leaf becomes the newest deepest descendant of that message. Returns the new leaf id.

    Reads only the messages below `message_id` on the way down (newest child at each level): its cost is the
    depth below it, not the size of the conversation."""
    require(ctx, "workspace.use")
    async with tenant_session(ctx.tenant_id) as session:
        await load_conversation(session, ctx.user_id, conversation_id, lock=True)
        leaf = await deepest_below(session, conversation_id, message_id)
        if leaf is None:
            raise NotFound(MESSAGE_NOT_FOUND)
        await session.exec(
            update(Conversation).where(col(Conversation.id) == conversation_id).values(current_leaf_id=leaf)
        )
    return leaf
