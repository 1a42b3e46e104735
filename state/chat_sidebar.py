"""The chat sidebar: conversations by day (paged), views (pinned, archived, folder, tag), search, and the
actions and dialogs on a conversation. A flat substate of rx.State; the open conversation is ChatState's."""

from __future__ import annotations

import contextlib
import uuid
from datetime import UTC, datetime
from typing import Any

import reflex as rx

from services import chat
from services.chat.folders import folder_usage
from services.chat.tags import tag_usage
from services.context import Ctx
from services.errors import ServiceError
from state.session import require_user

PAGE_SIZE = 40


def conv_dict(
    c: chat.ConversationInfo,
    folder_names: dict[str, str] | None = None,
    tag_names: dict[str, str] | None = None,
) -> dict[str, Any]:
    """A sidebar row; with the user's label names, its folder and tags to show as chips (by name)."""
    folder_id = str(c.folder_id) if c.folder_id else ""
    tag_ids = [str(t) for t in c.tag_ids]
    tag_names = tag_names or {}
    tags = sorted(({"id": t, "name": tag_names[t]} for t in tag_ids if t in tag_names), key=label_order)
    return {
        "id": str(c.id),
        "title": c.title,
        "pinned": c.pinned,
        "archived": c.archived,
        "folder_id": folder_id,
        "folder": (folder_names or {}).get(folder_id, ""),
        "tag_ids": tag_ids,
        "tags": tags,
    }


def label_order(label: dict[str, str]) -> tuple[str, str]:
    return label["name"].lower(), label["name"]


def chats(n: int) -> str:
    return "No chats" if n == 0 else "1 chat" if n == 1 else f"{n} chats"


def deletion_note(kind: str, name: str, n: int) -> str:
    """What deleting a folder or tag does to its conversations (they stay)."""
    if kind == "folder":
        if n == 0:
            return f"“{name}” is empty: no chat changes."
        return f"Its {chats(n)} {'stays' if n == 1 else 'stay'} in your list, just outside any folder."
    if n == 0:
        return f"No chat is tagged “{name}”: no chat changes."
    one = n == 1
    return f"The {chats(n)} tagged “{name}” {'stays' if one else 'stay'}; {'it' if one else 'they'} just lose{'s' if one else ''} the tag."


def label_rows(kind: str, labels: list[dict[str, str]], usage: dict[uuid.UUID, int]) -> list[dict[str, str]]:
    """The rows of the "Folders and tags" dialog: key (kind:id), kind, id, name, how many chats."""
    return [
        {
            "key": f"{kind}:{item['id']}",
            "kind": kind,
            "id": item["id"],
            "name": item["name"],
            "n": str(usage.get(uuid.UUID(item["id"]), 0)),
            "count": chats(usage.get(uuid.UUID(item["id"]), 0)),
        }
        for item in labels
    ]


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
    dialog_error: str = ""
    utc_offset: int = 0
    # The "Folders and tags" dialog: its rows, the label being renamed, the one asked to be deleted.
    manage_open: bool = False
    manage_folders: list[dict[str, str]] = []
    manage_tags: list[dict[str, str]] = []
    manage_error: str = ""
    label_edit: str = ""  # folder:<id> | tag:<id>
    label_delete: str = ""  # folder:<id> | tag:<id>
    label_delete_text: str = ""
    # Backend only.
    _cursor: str = ""
    _convs: list[chat.ConversationInfo] = []

    # Loading (called by ChatState.load and after changes) -----------------------------------------------

    async def _load_all(self, ctx: Ctx) -> None:
        """The sidebar for a page load. A search stays (its box keeps the words) and is run again."""
        await self._load_labels(ctx)
        self.view = self._valid_view(self.view)
        await self._reload(ctx, reset=True)
        if self.search_query:
            try:
                await self._search(ctx)
            except ServiceError:
                self.search_query, self.results, self.results_cut = "", [], False

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

    def _valid_view(self, view: str) -> str:
        """`view` when it names a view this user has (one of their own folders or tags), else "all"."""
        if view in ("all", "pinned", "archived"):
            return view
        kind, _, ident = str(view).partition(":")
        labels = self.folders if kind == "folder" else self.tags if kind == "tag" else []
        return view if any(item["id"] == ident for item in labels) else "all"

    async def _load_labels(self, ctx: Ctx) -> None:
        self.folders = [{"id": str(f.id), "name": f.name} for f in await chat.list_folders(ctx)]
        self.tags = [{"id": str(t.id), "name": t.name} for t in await chat.list_tags(ctx)]

    def _apply(self, page: chat.ConversationPage, *, reset: bool) -> None:
        convs = ([] if reset else list(self._convs)) + list(page.items)
        self._convs = convs
        self._cursor = page.next_cursor or ""
        self.has_more = page.next_cursor is not None
        self._regroup()

    def _regroup(self) -> None:
        """The rows, by day, from the loaded conversations and the current label names."""
        folder_names = {f["id"]: f["name"] for f in self.folders}
        tag_names = {t["id"]: t["name"] for t in self.tags}
        groups = chat.group_by_day(self._convs, now=datetime.now(UTC), utc_offset_minutes=self.utc_offset)
        self.groups = [
            {"label": g.label, "items": [conv_dict(c, folder_names, tag_names) for c in g.items]}
            for g in groups
        ]

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

    async def _do(self, ctx: Ctx, cid: str, action: str, value: Any = None) -> None:
        """One sidebar action on a conversation of the user (services check ownership); raises."""
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
        if cid == conversation.conversation_id:  # the open conversation: its header follows (no re-read)
            if action == "delete":
                conversation._clear_conversation()
            elif action in ("rename", "pin"):
                shown = next((c for c in self._convs if str(c.id) == cid), None)
                if shown is None:
                    shown = await chat.get_conversation(ctx, conv_id)
                conversation.title, conversation.pinned = shown.title, shown.pinned

    async def _act(self, cid: str, action: str, value: Any = None) -> None:
        try:
            await self._do(await require_user(self), cid, action, value)
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
        """Show all, pinned or archived chats, or one folder's or tag's (the picker, or a row's chip)."""
        try:
            ctx = await require_user(self)
            self.view = self._valid_view(str(view))
            await self._reload(ctx, reset=True)
            if self.search_query:
                await self._search(ctx)
        except ServiceError as exc:
            await self._fail(exc)

    # Dialogs: rename, new folder, new tag (with a name) and delete (a confirmation).

    @rx.event
    def open_dialog(self, kind: str, target: str = "", value: str = ""):
        if kind in ("rename", "new_folder", "new_tag", "delete"):
            self.dialog, self.dialog_target, self.dialog_value = kind, str(target), str(value)
            self.dialog_error = ""

    @rx.event
    def close_dialog(self, _open: bool = False):
        self.dialog = self.dialog_target = self.dialog_value = self.dialog_error = ""

    @rx.event
    async def submit_dialog(self, form: dict):
        """Save the name dialog. On an error the dialog stays open with the name as typed and the reason."""
        kind, target, name = self.dialog, self.dialog_target, str(form.get("name", "")).strip()
        try:
            ctx = await require_user(self)
            if kind == "rename":
                await self._do(ctx, target, "rename", name)
            elif kind == "new_folder":
                folder = await chat.create_folder(ctx, name)
                await self._load_labels(ctx)
                if target:
                    await self._do(ctx, target, "folder", str(folder.id))
                else:
                    self._regroup()
            elif kind == "new_tag":
                tag = await chat.create_tag(ctx, name)
                await self._load_labels(ctx)
                if target:
                    await self._do(ctx, target, "tag", str(tag.id))
                else:
                    self._regroup()
        except (ServiceError, ValueError) as exc:
            self.dialog_value, self.dialog_error = name, str(exc)
            return
        self.dialog = self.dialog_target = self.dialog_value = self.dialog_error = ""

    @rx.event
    async def confirm_delete(self):
        cid = self.dialog_target
        self.dialog = self.dialog_target = ""
        was_open = cid == (await self._chat()).conversation_id
        await self._act(cid, "delete")
        if was_open:
            return rx.redirect("/")
        return None

    # Folders and tags: the dialog that lists, renames and deletes them ----------------------------------

    async def _load_manage(self, ctx: Ctx) -> None:
        await self._load_labels(ctx)
        self.manage_folders = label_rows("folder", self.folders, await folder_usage(ctx))
        self.manage_tags = label_rows("tag", self.tags, await tag_usage(ctx))

    def _label(self, key: str) -> dict[str, str] | None:
        return next((r for r in [*self.manage_folders, *self.manage_tags] if r["key"] == key), None)

    @rx.event
    async def open_manage(self):
        try:
            await self._load_manage(await require_user(self))
        except ServiceError as exc:
            await self._fail(exc)
            return
        self.manage_open, self.manage_error, self.label_edit, self.label_delete = True, "", "", ""

    @rx.event
    def close_manage(self, _open: bool = False):
        self.manage_open, self.manage_error, self.label_edit, self.label_delete = False, "", "", ""

    @rx.event
    async def start_label_edit(self, key: str):
        try:
            await require_user(self)
        except ServiceError as exc:
            self.manage_error = str(exc)
            return
        if self._label(str(key)) is not None:
            self.label_edit, self.manage_error = str(key), ""

    @rx.event
    def cancel_label_edit(self):
        self.label_edit, self.manage_error = "", ""

    @rx.event
    async def save_label(self, form: dict):
        """Rename the folder or tag being edited; on an error its box keeps the name as typed."""
        label = self._label(self.label_edit)
        if label is None:
            self.label_edit = ""
            return
        name = str(form.get("name", ""))
        try:
            ctx = await require_user(self)
            if label["kind"] == "folder":
                await chat.rename_folder(ctx, uuid.UUID(label["id"]), name)
            else:
                await chat.rename_tag(ctx, uuid.UUID(label["id"]), name)
            await self._load_manage(ctx)
        except ServiceError as exc:
            self.manage_error = str(exc)
            return
        self.label_edit, self.manage_error = "", ""
        self._regroup()

    @rx.event
    async def add_label(self, form: dict):
        """Create a folder or a tag from the dialog (form fields: kind, name)."""
        kind, name = str(form.get("kind", "")), str(form.get("name", ""))
        if kind not in ("folder", "tag"):
            return None
        try:
            ctx = await require_user(self)
            if kind == "folder":
                await chat.create_folder(ctx, name)
            else:
                await chat.create_tag(ctx, name)
            await self._load_manage(ctx)
        except ServiceError as exc:
            self.manage_error = str(exc)
            return None
        self.manage_error = ""
        self._regroup()
        return rx.set_value(f"new-{kind}-name", "")

    @rx.event
    async def ask_label_delete(self, key: str):
        try:
            await require_user(self)
        except ServiceError as exc:
            self.manage_error = str(exc)
            return
        label = self._label(str(key))
        if label is None:
            return
        self.label_delete, self.label_edit, self.manage_error = label["key"], "", ""
        self.label_delete_text = deletion_note(label["kind"], label["name"], int(label["n"]))

    @rx.event
    def cancel_label_delete(self, _open: bool = False):
        self.label_delete = self.label_delete_text = ""

    @rx.event
    async def confirm_label_delete(self):
        label = self._label(self.label_delete)
        self.label_delete = self.label_delete_text = ""
        if label is None:
            return
        try:
            ctx = await require_user(self)
            if label["kind"] == "folder":
                await chat.delete_folder(ctx, uuid.UUID(label["id"]))
            else:
                await chat.delete_tag(ctx, uuid.UUID(label["id"]))
            await self._load_manage(ctx)
            self.view = self._valid_view(self.view)
            await self._reload(ctx, reset=True)  # the rows lose the chip; a view of it shows all chats
            if self.search_query:
                await self._search(ctx)
        except ServiceError as exc:
            self.manage_error = str(exc)

    # Search ---------------------------------------------------------------------------------------------

    @rx.event
    async def search(self, form: dict):
        """Search the view (all chats: archived ones too). Sent as the user types (the page debounces it) and on
        Enter; an empty box shows the list again."""
        query = str(form.get("q", "")).strip()
        self.search_query = query
        if not query:
            self.results, self.results_cut = [], False
            return
        try:
            await self._search(await require_user(self))
        except ServiceError as exc:
            await self._fail(exc)

    async def _search(self, ctx: Ctx) -> None:
        filters = self._filters()
        if self.view == "all":
            filters = chat.ConversationFilters(archived=None)  # search finds archived chats too
        found = await chat.search_results(ctx, self.search_query, filters, limit=30)
        self.results_cut = found.truncated
        self.results = [
            {
                "cid": str(h.conversation_id),
                "title": h.title,
                "parts": [{"text": p.text, "hit": p.hit} for p in h.parts],
                "href": f"/c/{h.conversation_id}" + (f"?m={h.message_id}" if h.message_id else ""),
            }
            for h in found.hits
        ]

    @rx.event
    def clear_search(self):
        self.search_query = ""
        self.results, self.results_cut = [], False
