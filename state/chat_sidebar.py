"""The chat sidebar: conversations by day (paged), views (pinned, archived, folder, tag), search, and the
actions and dialogs on a conversation. A flat substate of rx.State; the open conversation is ChatState's."""

from __future__ import annotations

import contextlib
import uuid
from datetime import UTC, datetime
from typing import Any

import reflex as rx

from services import chat
from services.context import Ctx
from services.errors import ServiceError
from state.session import require_user

PAGE_SIZE = 40


def conv_dict(c: chat.ConversationInfo) -> dict[str, Any]:
    return {
        "id": str(c.id),
        "title": c.title,
        "pinned": c.pinned,
        "archived": c.archived,
        "folder_id": str(c.folder_id) if c.folder_id else "",
        "tag_ids": [str(t) for t in c.tag_ids],
    }


def uuid_or_none(value: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(value)
    except ValueError:
        return None


class SidebarState(rx.State):
    groups: list[dict[str, Any]] = []
    has_more: bool = False
    search_query: str = ""
    results: list[dict[str, Any]] = []
    results_cut: bool = False  # a very common word: only the most recent matches were ranked
    view: str = "all"  # all | pinned | archived | folder:<id> | tag:<id>
    folders: list[dict[str, str]] = []
    tags: list[dict[str, str]] = []
    dialog: str = ""  # rename | new_folder | new_tag | delete
    dialog_target: str = ""
    dialog_value: str = ""
    utc_offset: int = 0
    # Backend only.
    _cursor: str = ""
    _convs: list[chat.ConversationInfo] = []

    # Loading (called by ChatState.load and after changes) -----------------------------------------------

    async def _load_all(self, ctx: Ctx) -> None:
        self.results, self.search_query = [], ""
        await self._load_labels(ctx)
        await self._reload(ctx, reset=True)

    async def _reload(self, ctx: Ctx, *, reset: bool) -> None:
        cursor = None if reset else self._cursor or None
        self._apply(
            await chat.list_conversations(ctx, self._filters(), cursor=cursor, page_size=PAGE_SIZE),
            reset=reset,
        )

    def _filters(self) -> chat.ConversationFilters:
        kind, _, ident = self.view.partition(":")
        if kind == "pinned":
            return chat.ConversationFilters(pinned=True)
        if kind == "archived":
            return chat.ConversationFilters(archived=True)
        if kind == "folder" and (folder_id := uuid_or_none(ident)):
            return chat.ConversationFilters(folder_id=folder_id)
        if kind == "tag" and (tag_id := uuid_or_none(ident)):
            return chat.ConversationFilters(tag_id=tag_id)
        return chat.ConversationFilters()

    async def _load_labels(self, ctx: Ctx) -> None:
        self.folders = [{"id": str(f.id), "name": f.name} for f in await chat.list_folders(ctx)]
        self.tags = [{"id": str(t.id), "name": t.name} for t in await chat.list_tags(ctx)]

    def _apply(self, page: chat.ConversationPage, *, reset: bool) -> None:
        convs = ([] if reset else list(self._convs)) + list(page.items)
        self._convs = convs
        self._cursor = page.next_cursor or ""
        self.has_more = page.next_cursor is not None
        groups = chat.group_by_day(convs, now=datetime.now(UTC), utc_offset_minutes=self.utc_offset)
        self.groups = [{"label": g.label, "items": [conv_dict(c) for c in g.items]} for g in groups]

    async def _chat(self) -> Any:
        from state.chat import ChatState

        return await self.get_state(ChatState)

    async def _fail(self, exc: Exception) -> None:
        (await self._chat()).error = str(exc)

    @rx.event
    async def set_utc_offset(self, minutes: int):
        """The browser's time zone, so Today / Yesterday follow the user's calendar."""
        if isinstance(minutes, int) and -900 <= minutes <= 900 and minutes != self.utc_offset:
            self.utc_offset = minutes
            with contextlib.suppress(ServiceError):
                await self._reload(await require_user(self), reset=True)

    @rx.event
    async def load_more(self):
        if not self.has_more:
            return
        try:
            await self._reload(await require_user(self), reset=False)
        except ServiceError as exc:
            await self._fail(exc)

    # Conversation actions -------------------------------------------------------------------------------

    async def _act(self, cid: str, action: str, value: Any = None) -> None:
        """One sidebar action on a conversation of the user (services check ownership)."""
        try:
            ctx = await require_user(self)
            conv_id = uuid.UUID(cid)
            if action == "rename":
                await chat.rename_conversation(ctx, conv_id, str(value))
            elif action == "pin":
                await chat.set_pinned(ctx, conv_id, bool(value))
            elif action == "archive":
                await chat.set_archived(ctx, conv_id, bool(value))
            elif action == "delete":
                await chat.delete_conversation(ctx, conv_id)
            elif action == "folder":
                await chat.move_to_folder(ctx, conv_id, uuid_or_none(str(value)))
            elif action == "tag":
                await chat.tag_conversation(ctx, conv_id, uuid.UUID(str(value)))
            elif action == "untag":
                await chat.untag_conversation(ctx, conv_id, uuid.UUID(str(value)))
            await self._reload(ctx, reset=True)
            conversation = await self._chat()
            if cid == conversation.conversation_id:
                if action in ("delete", "archive") and value is not False:
                    conversation.conversation_id, conversation.messages, conversation.title = "", [], ""
                else:
                    await conversation._open(ctx, cid)
        except (ServiceError, ValueError) as exc:
            await self._fail(exc)

    @rx.event
    async def toggle_pin(self, cid: str, pinned: bool):
        await self._act(cid, "pin", not pinned)

    @rx.event
    async def archive(self, cid: str, archived: bool = False):
        await self._act(cid, "archive", not archived)

    @rx.event
    async def move_to_folder(self, cid: str, folder_id: str):
        await self._act(cid, "folder", folder_id)

    @rx.event
    async def toggle_tag(self, cid: str, tag_id: str, tagged: bool):
        await self._act(cid, "untag" if tagged else "tag", tag_id)

    @rx.event
    async def set_view(self, view: str):
        self.view = view
        self.results, self.search_query = [], ""
        try:
            await self._reload(await require_user(self), reset=True)
        except ServiceError as exc:
            await self._fail(exc)

    # Dialogs: rename, new folder, new tag (with a name) and delete (a confirmation).

    @rx.event
    def open_dialog(self, kind: str, target: str = "", value: str = ""):
        if kind in ("rename", "new_folder", "new_tag", "delete"):
            self.dialog, self.dialog_target, self.dialog_value = kind, target, value

    @rx.event
    def close_dialog(self, _open: bool = False):
        self.dialog = self.dialog_target = self.dialog_value = ""

    @rx.event
    async def submit_dialog(self, form: dict):
        kind, target, name = self.dialog, self.dialog_target, str(form.get("name", "")).strip()
        self.dialog = self.dialog_target = self.dialog_value = ""
        try:
            ctx = await require_user(self)
            if kind == "rename":
                await self._act(target, "rename", name)
            elif kind == "new_folder":
                folder = await chat.create_folder(ctx, name)
                await self._load_labels(ctx)
                if target:
                    await self._act(target, "folder", str(folder.id))
            elif kind == "new_tag":
                tag = await chat.create_tag(ctx, name)
                await self._load_labels(ctx)
                if target:
                    await self._act(target, "tag", str(tag.id))
        except ServiceError as exc:
            await self._fail(exc)

    @rx.event
    async def confirm_delete(self):
        cid = self.dialog_target
        self.dialog = self.dialog_target = ""
        was_open = cid == (await self._chat()).conversation_id
        await self._act(cid, "delete")
        if was_open:
            return rx.redirect("/")
        return None

    # Search ---------------------------------------------------------------------------------------------

    @rx.event
    async def search(self, form: dict):
        query = str(form.get("q", "")).strip()
        self.search_query = query
        if not query:
            self.results = []
            return
        try:
            ctx = await require_user(self)
            filters = self._filters()
            if self.view == "all":
                filters = chat.ConversationFilters(archived=None)  # search finds archived chats too
            found = await chat.search_results(ctx, query, filters, limit=30)
        except ServiceError as exc:
            await self._fail(exc)
            return
        hits = found.hits
        self.results_cut = found.truncated
        self.results = [
            {
                "cid": str(h.conversation_id),
                "title": h.title,
                "parts": [{"text": p.text, "hit": p.hit} for p in h.parts],
                "href": f"/c/{h.conversation_id}" + (f"?m={h.message_id}" if h.message_id else ""),
            }
            for h in hits
        ]

    @rx.event
    def clear_search(self):
        self.search_query = ""
        self.results = []
