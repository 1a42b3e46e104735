"""'Used N memories' under a reply: which of the member's memories it was given, with Edit and Forget.

The reply stores only the ids (services/turns/reply.py `memory_part`); the texts are read when the member opens
the list, from their own memories (a forgotten one is absent). Every handler asks the server who is asking.
"""

from __future__ import annotations

import uuid

import reflex as rx

from services.errors import ServiceError
from services.memory import store
from state.session import require_user


def _ids(values: list[str]) -> list[uuid.UUID]:
    out = []
    for v in values[:200]:
        try:
            out.append(uuid.UUID(str(v)))
        except ValueError:
            continue
    return out


class MemoryUseState(rx.State):
    open_for: str = ""  # the reply whose memories are shown
    items: list[dict[str, str]] = []
    error: str = ""

    @rx.event
    async def toggle(self, message_id: str, memory_ids: list[str]):
        if self.open_for == message_id:
            self.open_for, self.items = "", []
            return
        self.open_for, self.items, self.error = message_id, [], ""
        try:
            ctx = await require_user(self)
            found = await store.get_many(ctx, _ids(memory_ids))
        except ServiceError as exc:
            self.error = str(exc)
            return
        self.items = [{"id": str(m.id), "text": m.text} for m in found]

    @rx.event
    async def forget(self, memory_id: str):
        self.error = ""
        try:
            ctx = await require_user(self)
            await store.forget(ctx, uuid.UUID(memory_id))
        except (ServiceError, ValueError) as exc:
            self.error = str(exc)
            return
        self.items = [i for i in self.items if i["id"] != memory_id]
