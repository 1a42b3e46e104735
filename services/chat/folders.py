"""Folders: a user's own way to file conversations (one folder per conversation, or none)."""

from __future__ import annotations

import uuid

from models import Folder
from services.chat import labels
from services.chat.common import FOLDER_NOT_FOUND, MAX_FOLDER_CHARS, FolderInfo
from services.context import Ctx

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
