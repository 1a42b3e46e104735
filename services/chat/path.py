"""Placeholder: the visible branch in windows (replaced by the CTE version from the path-window work)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from services.chat.common import MESSAGE_NOT_FOUND, ConversationInfo
from services.chat.messages import get_tree
from services.chat.tree import PathStep
from services.context import Ctx
from services.errors import NotFound


@dataclass(frozen=True, slots=True)
class PathWindow:
    conversation: ConversationInfo
    steps: list[PathStep]
    has_older: bool


async def path_window(
    ctx: Ctx, conversation_id: uuid.UUID, *, before: uuid.UUID | None = None, limit: int = 50
) -> PathWindow:
    tree = await get_tree(ctx, conversation_id)
    steps = tree.path()
    end = len(steps)
    if before is not None:
        ids = [s.message.id for s in steps]
        if before not in ids:
            raise NotFound(MESSAGE_NOT_FOUND)
        end = ids.index(before)
    start = max(0, end - limit)
    return PathWindow(tree.conversation, steps[start:end], start > 0)
