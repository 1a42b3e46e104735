"""Folders: a user's own way to file conversations (one folder per conversation, or none)."""

from __future__ import annotations

import uuid

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import col

from models import Folder
from models.base import utcnow
from services.auth.roles import require
from services.chat.common import FOLDER_NOT_FOUND, MAX_FOLDER_CHARS, FolderInfo, clean_name
from services.context import Ctx
from services.db import tenant_session
from services.errors import NotFound, ValidationError


def _duplicate(name: str) -> ValidationError:
    return ValidationError(f"You already have a folder named “{name}”. Choose another name.")


async def create_folder(ctx: Ctx, name: str) -> FolderInfo:
    require(ctx, "workspace.use")
    name = clean_name(name, "folder", MAX_FOLDER_CHARS)
    folder = FolderInfo(id=uuid.uuid4(), name=name, created_at=utcnow())
    try:
        async with tenant_session(ctx.tenant_id) as session:
            await session.exec(
                insert(Folder).values(
                    id=folder.id,
                    tenant_id=ctx.tenant_id,
                    user_id=ctx.user_id,
                    name=name,
                    created_at=folder.created_at,
                )
            )
    except IntegrityError as exc:
        raise _duplicate(name) from exc
    return folder


async def rename_folder(ctx: Ctx, folder_id: uuid.UUID, name: str) -> FolderInfo:
    require(ctx, "workspace.use")
    name = clean_name(name, "folder", MAX_FOLDER_CHARS)
    try:
        async with tenant_session(ctx.tenant_id) as session:
            row = (
                await session.execute(
                    update(Folder)
                    .where(col(Folder.id) == folder_id, col(Folder.user_id) == ctx.user_id)
                    .values(name=name)
                    .returning(col(Folder.id), col(Folder.name), col(Folder.created_at))
                )
            ).first()
            if row is None:
                raise NotFound(FOLDER_NOT_FOUND)
    except IntegrityError as exc:
        raise _duplicate(name) from exc
    return FolderInfo(id=row.id, name=row.name, created_at=row.created_at)


async def delete_folder(ctx: Ctx, folder_id: uuid.UUID) -> None:
    """Delete a folder. Its conversations stay, outside any folder."""
    require(ctx, "workspace.use")
    async with tenant_session(ctx.tenant_id) as session:
        result = await session.exec(
            delete(Folder).where(col(Folder.id) == folder_id, col(Folder.user_id) == ctx.user_id)
        )
        if not result.rowcount:
            raise NotFound(FOLDER_NOT_FOUND)


async def list_folders(ctx: Ctx) -> list[FolderInfo]:
    """The user's folders, by name."""
    require(ctx, "workspace.use")
    async with tenant_session(ctx.tenant_id) as session:
        rows = await session.execute(
            select(col(Folder.id), col(Folder.name), col(Folder.created_at))
            .where(col(Folder.user_id) == ctx.user_id)
            .order_by(func.lower(col(Folder.name)), col(Folder.name))
        )
        return [FolderInfo(id=r.id, name=r.name, created_at=r.created_at) for r in rows]
