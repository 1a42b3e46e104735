"""Folders: a user's own way to file conversations (one folder per conversation, or none)."""

from __future__ import annotations

import uuid

from sqlalchemy import func, select
from sqlmodel import col

from models import Conversation, Folder
from services.auth.roles import require
from services.chat import labels
from services.chat.common import FOLDER_NOT_FOUND, MAX_FOLDER_CHARS, FolderInfo
from services.context import Ctx
from services.db import tenant_session

FOLDERS = labels.LabelKind(Folder, FolderInfo, "folder", MAX_FOLDER_CHARS, FOLDER_NOT_FOUND)


async def create_folder(ctx: Ctx, name: str) -> FolderInfo:
    return await labels.create(FOLDERS, ctx, name)


async def rename_folder(ctx: Ctx, folder_id: uuid.UUID, name: str) -> FolderInfo:
    return await labels.rename(FOLDERS, ctx, folder_id, name)


async def delete_folder(ctx: Ctx, folder_id: uuid.UUID) -> None:
    """Delete a folder. Its conversations stay, outside any folder."""
    await labels.remove(FOLDERS, ctx, folder_id)


async def list_folders(ctx: Ctx) -> list[FolderInfo]:
    """The user's folders, by name."""
    return await labels.list_all(FOLDERS, ctx)


async def folder_usage(ctx: Ctx) -> dict[uuid.UUID, int]:
    """How many of the user's conversations (archived ones too) each of their folders holds; empty
    folders are left out."""
    require(ctx, "workspace.use")
    folder = col(Conversation.folder_id)
    async with tenant_session(ctx.tenant_id) as session:
        rows = await session.execute(
            select(folder, func.count())
            .where(col(Conversation.user_id) == ctx.user_id, folder.is_not(None))
            .group_by(folder)
        )
        return {r[0]: int(r[1]) for r in rows}
