"""Files attached in the composer, before they are sent with a message.

The page's script (assets/attach.js) uploads each chosen, dropped or pasted file with a plain POST to
`/api/files` (authenticated before the body is read), and reports what happened through `sync`: a chip appears
at once ("Uploading"), then shows the stored file, or the server's reason for refusing it. Only the ids the
server returned are kept (in a backend var); `ReplyState` takes them when the message is sent, and the turn
checks them again (an id of somebody else's file attaches nothing).
"""

from __future__ import annotations

import uuid
from typing import Any

import reflex as rx

from services.errors import NotFound, ServiceError
from services.files import collections, records, sniff
from state.session import require_user

MAX_PENDING = 10


def size_text(size: int) -> str:
    if size < 1024:
        return f"{size} B"
    if size < 1024 * 1024:
        return f"{size / 1024:.0f} KB"
    return f"{size / 1024 / 1024:.1f} MB"


def chip(
    tmp: str,
    name: str,
    *,
    size: int = 0,
    file_id: str = "",
    kind: str = "",
    status: str = "",
    error: str = "",
) -> dict[str, str]:
    is_image = kind in sniff.IMAGE_KINDS
    label = sniff.KINDS[kind].label if kind in sniff.KINDS else ""
    return {
        "tmp": tmp,
        "id": file_id,
        "name": sniff.display_name(name),
        "label": label,
        "size": size_text(size) if size else "",
        "status": status,  # uploading | processing | ready | failed | refused
        "error": error,
        "thumb": f"/api/files/{file_id}/download?inline=1" if is_image and file_id else "",
        "image": "yes" if is_image else "",
    }


def put_back(
    pending: list[dict[str, str]], ids: dict[str, str], chips: list[dict[str, str]], file_ids: list[uuid.UUID]
) -> tuple[list[dict[str, str]], dict[str, str]]:
    """The composer's chips and stored ids with a failed message's chips (and their file ids) back in front;
    a chip still there is not doubled."""
    kept = {c["tmp"] for c in pending}
    back = [(c, f) for c, f in zip(chips, file_ids, strict=True) if c["tmp"] not in kept]
    return [*(c for c, _ in back), *pending], {**ids, **{c["tmp"]: str(f) for c, f in back}}


class AttachState(rx.State):
    pending: list[dict[str, str]] = []
    # The composer's Knowledge picker: the collections the user may search, and those this conversation does.
    collections: list[dict[str, str]] = []
    chosen: list[str] = []
    knowledge_error: str = ""
    # Backend only: the ids the server returned, for the chips in `pending` (by tmp id); the conversation
    # `chosen` belongs to ("" = the new chat not yet started).
    _ids: dict[str, str] = {}
    _chosen_for: str = ""

    async def _conversation(self) -> str:
        from state.chat import ChatState  # the chat state imports this module

        return (await self.get_state(ChatState)).conversation_id

    @rx.event
    async def open_knowledge(self, is_open: bool):
        """The picker opened: the collections, and those the shown conversation searches (from the database)."""
        if not is_open:
            return
        ctx = await require_user(self)
        self.knowledge_error = ""
        cid = await self._conversation()
        try:
            found = await collections.list_collections(ctx)
            if cid and cid != self._chosen_for:
                self.chosen = [
                    str(c) for c in await collections.conversation_collections(ctx, uuid.UUID(cid))
                ]
            elif not cid and self._chosen_for:
                self.chosen = []
        except ServiceError as exc:
            self.knowledge_error = str(exc)
            return
        self._chosen_for = cid
        self.collections = [
            {"id": str(c.id), "name": c.name, "files": str(c.file_count), "shared": "yes" if c.shared else ""}
            for c in found
        ]

    @rx.event
    async def toggle_collection(self, collection_id: str):
        ctx = await require_user(self)
        chosen = [c for c in self.chosen if c != collection_id]
        if len(chosen) == len(self.chosen):
            chosen.append(collection_id)
        cid = await self._conversation()
        if cid and cid == self._chosen_for:
            try:
                await collections.set_conversation_collections(
                    ctx, uuid.UUID(cid), [uuid.UUID(c) for c in chosen]
                )
            except (ServiceError, ValueError) as exc:
                self.knowledge_error = (
                    str(exc) if isinstance(exc, ServiceError) else "That collection is gone."
                )
                return
        self.chosen = chosen

    def _new_chat_collections(self) -> list[uuid.UUID]:
        """The collections picked before the new chat existed (applied when it is stored)."""
        return [uuid.UUID(c) for c in self.chosen] if not self._chosen_for else []

    @rx.var
    def uploading(self) -> bool:
        return any(c["status"] == "uploading" for c in self.pending)

    @rx.event
    async def sync(self, events: Any):
        """What the upload script saw since the last call: [{tmp, phase: start|done|error, ...}]."""
        await require_user(self)
        if not isinstance(events, list):
            return
        for event in events[:50]:
            if not isinstance(event, dict):
                continue
            tmp = str(event.get("tmp", ""))[:40]
            phase = event.get("phase")
            if not tmp:
                continue
            if phase == "start":
                if len(self.pending) >= MAX_PENDING:
                    continue
                self.pending = [
                    *self.pending,
                    chip(
                        tmp,
                        str(event.get("name", "file")),
                        size=int(event.get("size") or 0),
                        status="uploading",
                    ),
                ]
            elif phase == "done":
                await self._stored(tmp, event.get("file"))
            elif phase == "error":
                self._set(tmp, status="refused", error=str(event.get("error") or "The upload failed.")[:500])

    async def _stored(self, tmp: str, answer: Any) -> None:
        """The server stored the file: read it back (the answer from the browser is not trusted)."""
        ctx = await require_user(self)
        try:
            file_id = uuid.UUID(str((answer or {}).get("id", "")))
            found = await records.get(ctx, file_id)
        except (ValueError, AttributeError, NotFound):
            self._set(tmp, status="refused", error="The upload could not be confirmed. Try again.")
            return
        except ServiceError as exc:
            self._set(tmp, status="refused", error=str(exc))
            return
        self._ids = {**self._ids, tmp: str(found.id)}
        updated = chip(
            tmp,
            found.name,
            size=found.size_bytes,
            file_id=str(found.id),
            kind=found.kind,
            status=found.status,
        )
        self.pending = [updated if c["tmp"] == tmp else c for c in self.pending]

    def _set(self, tmp: str, **fields: str) -> None:
        self.pending = [{**c, **fields} if c["tmp"] == tmp else c for c in self.pending]

    @rx.event
    def remove(self, tmp: str):
        self.pending = [c for c in self.pending if c["tmp"] != tmp]
        self._ids = {k: v for k, v in self._ids.items() if k != tmp}

    def _take(self) -> tuple[list[uuid.UUID], list[dict[str, str]], bool]:
        """(file ids, their chips, any image) of the stored attachments; refused ones are dropped. Cleared by
        `_clear` once the message was accepted."""
        ids, chips = [], []
        for c in self.pending:
            file_id = self._ids.get(c["tmp"])
            if file_id and c["status"] != "refused":
                ids.append(uuid.UUID(file_id))
                chips.append(c)
        return ids, chips, any(c["image"] for c in chips)

    def _clear(self) -> None:
        self.pending, self._ids = [], {}

    def _put_back(self, chips: list[dict[str, str]], file_ids: list[uuid.UUID]) -> None:
        """The chips of a message that could not be stored, back in the composer (before any added since)."""
        self.pending, self._ids = put_back(self.pending, self._ids, chips, file_ids)
