"""What folders and tags share: a user's own named labels, unique per user, listed by name."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Generic, TypeVar

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import col

from models import Folder, Tag
from models.base import utcnow
from services.auth.roles import require
from services.chat.common import FolderInfo, TagInfo, clean_name
from services.context import Ctx
from services.db import tenant_session
from services.errors import NotFound, ValidationError

InfoT = TypeVar("InfoT", FolderInfo, TagInfo)


@dataclass(frozen=True, slots=True)
class LabelKind(Generic[InfoT]):
    table: type[Folder] | type[Tag]
    info: type[InfoT]
    noun: str  # "folder" | "tag"
    max_chars: int
    not_found: str

    def duplicate(self, name: str) -> ValidationError:
        return ValidationError(f"You already have a {self.noun} named “{name}”. Choose another name.")


async def create(kind: LabelKind[InfoT], ctx: Ctx, name: str) -> InfoT:
    require(ctx, "workspace.use")
    name = clean_name(name, kind.noun, kind.max_chars)
    label = kind.info(id=uuid.uuid4(), name=name, created_at=utcnow())
    try:
        async with tenant_session(ctx.tenant_id) as session:
            await session.exec(
                insert(kind.table).values(
                    id=label.id,
                    tenant_id=ctx.tenant_id,
                    user_id=ctx.user_id,
                    name=name,
                    created_at=label.created_at,
                )
            )
    except IntegrityError as exc:
        raise kind.duplicate(name) from exc
    return label


async def rename(kind: LabelKind[InfoT], ctx: Ctx, label_id: uuid.UUID, name: str) -> InfoT:
    require(ctx, "workspace.use")
    name = clean_name(name, kind.noun, kind.max_chars)
    t = kind.table
    try:
        async with tenant_session(ctx.tenant_id) as session:
            row = (
                await session.execute(
                    update(t)
                    .where(col(t.id) == label_id, col(t.user_id) == ctx.user_id)
                    .values(name=name)
                    .returning(col(t.id), col(t.name), col(t.created_at))
                )
            ).first()
            if row is None:
                raise NotFound(kind.not_found)
    except IntegrityError as exc:
        raise kind.duplicate(name) from exc
    return kind.info(id=row.id, name=row.name, created_at=row.created_at)


async def remove(kind: LabelKind[InfoT], ctx: Ctx, label_id: uuid.UUID) -> None:
    require(ctx, "workspace.use")
    t = kind.table
    async with tenant_session(ctx.tenant_id) as session:
        result = await session.exec(delete(t).where(col(t.id) == label_id, col(t.user_id) == ctx.user_id))
        if not result.rowcount:
            raise NotFound(kind.not_found)


async def list_all(kind: LabelKind[InfoT], ctx: Ctx) -> list[InfoT]:
    """The user's labels of this kind, by name."""
    require(ctx, "workspace.use")
    t = kind.table
    async with tenant_session(ctx.tenant_id) as session:
        rows = await session.execute(
            select(col(t.id), col(t.name), col(t.created_at))
            .where(col(t.user_id) == ctx.user_id)
            .order_by(func.lower(col(t.name)), col(t.name))
        )
        return [kind.info(id=r.id, name=r.name, created_at=r.created_at) for r in rows]
