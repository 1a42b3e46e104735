"""Collections: named groups of files a conversation (and later an agent) searches.

A personal collection belongs to its member and holds only their own files. A shared collection (owner NULL)
is the tenant's: its admins create it and add files to it, and every member of the tenant may read those files
and search it. Conversations choose collections in the composer's Knowledge picker (`conversation_collections`).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import delete, func, or_, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import IntegrityError
from sqlmodel import col

from models import Collection, CollectionFile, Conversation, ConversationCollection, StoredFile
from models.base import utcnow
from services.auth.roles import has, require
from services.context import Ctx
from services.db import tenant_session
from services.errors import NotFound, ValidationError

COLLECTION_NOT_FOUND = "That collection does not exist (it may have been deleted)."
MAX_NAME = 100


@dataclass(frozen=True, slots=True)
class CollectionInfo:
    id: uuid.UUID
    name: str
    description: str
    shared: bool  # the tenant's (admins manage it), else the member's own
    file_count: int
    editable: bool  # the asking user may rename it, delete it and change its files


def _visible(ctx: Ctx):  # type: ignore[no-untyped-def]
    return or_(col(Collection.owner_id) == ctx.user_id, col(Collection.owner_id).is_(None))


def _editable(ctx: Ctx, row: Collection) -> bool:
    return row.owner_id == ctx.user_id or (row.owner_id is None and has(ctx, "members.manage"))


def _clean_name(name: str) -> str:
    cleaned = " ".join(name.split())
    if not cleaned:
        raise ValidationError("Enter a name for the collection.")
    if len(cleaned) > MAX_NAME:
        raise ValidationError(f"A collection name has at most {MAX_NAME} characters.")
    return cleaned


async def list_collections(ctx: Ctx) -> list[CollectionInfo]:
    require(ctx, "workspace.use")
    counts = (
        select(col(CollectionFile.collection_id), func.count().label("n"))
        .group_by(col(CollectionFile.collection_id))
        .subquery()
    )
    async with tenant_session(ctx.tenant_id) as session:
        rows = await session.execute(
            select(Collection, func.coalesce(counts.c.n, 0))
            .outerjoin(counts, counts.c.collection_id == col(Collection.id))
            .where(_visible(ctx))
            .order_by(col(Collection.owner_id).is_(None).desc(), func.lower(col(Collection.name)))
        )
        return [
            CollectionInfo(c.id, c.name, c.description, c.owner_id is None, int(n), _editable(ctx, c))
            for c, n in rows.all()
        ]


async def create_collection(
    ctx: Ctx, name: str, *, shared: bool = False, description: str = ""
) -> CollectionInfo:
    require(ctx, "members.manage" if shared else "workspace.use")
    row = Collection(
        tenant_id=ctx.tenant_id,
        owner_id=None if shared else ctx.user_id,
        name=_clean_name(name),
        description=" ".join(description.split())[:500],
        created_at=utcnow(),
    )
    try:
        async with tenant_session(ctx.tenant_id) as session:
            session.add(row)
    except IntegrityError:
        raise ValidationError(f"There is already a collection named “{row.name}”.") from None
    return CollectionInfo(row.id, row.name, row.description, shared, 0, True)


async def _own(session, ctx: Ctx, collection_id: uuid.UUID) -> Collection:  # type: ignore[no-untyped-def]
    row = await session.get(Collection, collection_id)
    if row is None or not (row.owner_id == ctx.user_id or row.owner_id is None):
        raise NotFound(COLLECTION_NOT_FOUND)
    if not _editable(ctx, row):
        raise (
            NotFound(COLLECTION_NOT_FOUND)
            if row.owner_id is not None
            else ValidationError("Only the workspace's admins change a shared collection.")
        )
    return row


async def rename_collection(ctx: Ctx, collection_id: uuid.UUID, name: str) -> None:
    require(ctx, "workspace.use")
    try:
        async with tenant_session(ctx.tenant_id) as session:
            row = await _own(session, ctx, collection_id)
            row.name = _clean_name(name)
            session.add(row)
    except IntegrityError:
        raise ValidationError(f"There is already a collection named “{_clean_name(name)}”.") from None


async def delete_collection(ctx: Ctx, collection_id: uuid.UUID) -> None:
    """The collection goes; its files stay (they may be in other collections, or attached to messages)."""
    require(ctx, "workspace.use")
    async with tenant_session(ctx.tenant_id) as session:
        row = await _own(session, ctx, collection_id)
        await session.delete(row)


async def set_file_collections(ctx: Ctx, file_id: uuid.UUID, collection_ids: list[uuid.UUID]) -> None:
    """Put one of the user's own files in exactly these collections (among those the user may edit)."""
    require(ctx, "workspace.use")
    async with tenant_session(ctx.tenant_id) as session:
        owner = (
            await session.execute(select(col(StoredFile.user_id)).where(col(StoredFile.id) == file_id))
        ).scalar_one_or_none()
        if owner != ctx.user_id:
            raise NotFound("That file does not exist (it may have been deleted).")
        editable = {
            c.id
            for c in (await session.execute(select(Collection).where(_visible(ctx)))).scalars()
            if _editable(ctx, c)
        }
        wanted = [c for c in dict.fromkeys(collection_ids)]
        if any(c not in editable for c in wanted):
            raise NotFound(COLLECTION_NOT_FOUND)
        await session.execute(
            delete(CollectionFile).where(
                col(CollectionFile.file_id) == file_id, col(CollectionFile.collection_id).in_(editable)
            )
        )
        if wanted:
            await session.execute(
                insert(CollectionFile)
                .values(
                    [
                        {
                            "tenant_id": ctx.tenant_id,
                            "collection_id": c,
                            "file_id": file_id,
                            "added_at": utcnow(),
                        }
                        for c in wanted
                    ]
                )
                .on_conflict_do_nothing()
            )


async def file_collections(ctx: Ctx, file_ids: list[uuid.UUID]) -> dict[uuid.UUID, list[uuid.UUID]]:
    """For each file, the collections (visible to the user) it is in."""
    if not file_ids:
        return {}
    async with tenant_session(ctx.tenant_id) as session:
        rows = await session.execute(
            select(col(CollectionFile.file_id), col(CollectionFile.collection_id))
            .join(Collection, col(Collection.id) == col(CollectionFile.collection_id))
            .where(col(CollectionFile.file_id).in_(file_ids), _visible(ctx))
        )
        out: dict[uuid.UUID, list[uuid.UUID]] = {}
        for f, c in rows.all():
            out.setdefault(f, []).append(c)
        return out


async def collection_file_ids(ctx: Ctx, collection_ids: list[uuid.UUID]) -> list[uuid.UUID]:
    """The files of these collections (visible to the user) that are ready to search."""
    if not collection_ids:
        return []
    async with tenant_session(ctx.tenant_id) as session:
        rows = await session.execute(
            select(col(CollectionFile.file_id))
            .join(Collection, col(Collection.id) == col(CollectionFile.collection_id))
            .where(col(CollectionFile.collection_id).in_(collection_ids), _visible(ctx))
            .distinct()
        )
        return list(rows.scalars())


async def conversation_collections(ctx: Ctx, conversation_id: uuid.UUID) -> list[uuid.UUID]:
    async with tenant_session(ctx.tenant_id) as session:
        rows = await session.execute(
            select(col(ConversationCollection.collection_id))
            .join(Conversation, col(Conversation.id) == col(ConversationCollection.conversation_id))
            .where(
                col(ConversationCollection.conversation_id) == conversation_id,
                col(Conversation.user_id) == ctx.user_id,
            )
        )
        return list(rows.scalars())


async def set_conversation_collections(
    ctx: Ctx, conversation_id: uuid.UUID, collection_ids: list[uuid.UUID]
) -> None:
    require(ctx, "workspace.use")
    async with tenant_session(ctx.tenant_id) as session:
        owner = (
            await session.execute(
                select(col(Conversation.user_id)).where(col(Conversation.id) == conversation_id)
            )
        ).scalar_one_or_none()
        if owner != ctx.user_id:
            raise NotFound("That conversation does not exist (it may have been deleted).")
        visible = set((await session.execute(select(col(Collection.id)).where(_visible(ctx)))).scalars())
        wanted = list(dict.fromkeys(collection_ids))
        if any(c not in visible for c in wanted):
            raise NotFound(COLLECTION_NOT_FOUND)
        await session.execute(
            delete(ConversationCollection).where(
                col(ConversationCollection.conversation_id) == conversation_id
            )
        )
        if wanted:
            await session.execute(
                insert(ConversationCollection).values(
                    [
                        {"tenant_id": ctx.tenant_id, "conversation_id": conversation_id, "collection_id": c}
                        for c in wanted
                    ]
                )
            )
