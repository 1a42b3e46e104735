"""The chat page: sidebar, conversation, model choice, streaming replies, branches, search (export/import: chat_io).

Streaming follows DESIGN.md: `send` stores the user message in a short transaction and returns the
background event `stream_reply`, which consumes the provider outside `async with self`, pushes the growing
text into one small var at most every 50 ms, honours the Stop flag, and stores the reply once at the end
(partial text marked unfinished on stop, error or interruption). No DB session is held across the model call.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import reflex as rx

from services import ai_catalog, chat
from services.chat.common import DEFAULT_TITLE
from services.chat.messages import clean_user_text
from services.context import Ctx
from services.errors import ServiceError
from services.llm import ChatMessage, collect_reply
from services.streaming import run_reply
from state import request
from state.session import require_user

log = logging.getLogger("solo.chat")
PAGE_SIZE = 40


def _msg_dict(step: chat.PathStep) -> dict[str, Any]:
    m = step.message
    return {
        "id": str(m.id),
        "role": m.role,
        "text": m.text,
        "status": m.status,
        "error": m.error_text,
        "model": m.model,
        "index": step.index + 1,
        "count": step.count,
        "prev_id": str(step.previous_id) if step.previous_id else "",
        "next_id": str(step.next_id) if step.next_id else "",
    }


def _pending_msg_dict(message_id: uuid.UUID, text: str) -> dict[str, Any]:
    return {
        "id": str(message_id),
        "role": "user",
        "text": text,
        "status": "complete",
        "error": "",
        "model": "",
        "index": 1,
        "count": 1,
        "prev_id": "",
        "next_id": "",
    }


def _new_msg_dict(m: chat.MessageInfo) -> dict[str, Any]:
    return {
        "id": str(m.id),
        "role": m.role,
        "text": m.text,
        "status": m.status,
        "error": m.error_text,
        "model": m.model,
        "index": 1,
        "count": 1,
        "prev_id": "",
        "next_id": "",
    }


def _conv_dict(c: chat.ConversationInfo) -> dict[str, Any]:
    return {
        "id": str(c.id),
        "title": c.title,
        "pinned": c.pinned,
        "archived": c.archived,
        "folder_id": str(c.folder_id) if c.folder_id else "",
        "tag_ids": [str(t) for t in c.tag_ids],
    }


def _uuid_or_none(value: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(value)
    except ValueError:
        return None


# Client tokens whose Stop button was pressed in this process (read by their reply task at each flush).
_STOPPED: set[str] = set()


class StreamState(rx.State):
    """The reply being streamed: one small var in its own state, so each update re-renders only the
    streaming bubble, not the conversation or the sidebar."""

    text: str = ""


class ChatState(rx.State):
    # Sidebar.
    groups: list[dict[str, Any]] = []
    has_more: bool = False
    search_query: str = ""
    results: list[dict[str, Any]] = []
    view: str = "all"  # all | pinned | archived | folder:<id> | tag:<id>
    folders: list[dict[str, str]] = []
    tags: list[dict[str, str]] = []
    dialog: str = ""  # rename | new_folder | new_tag | delete
    dialog_target: str = ""
    dialog_value: str = ""
    utc_offset: int = 0
    searching: bool = False
    # The open conversation.
    conversation_id: str = ""
    title: str = ""
    pinned: bool = False
    messages: list[dict[str, Any]] = []
    focus_message: str = ""
    # Models.
    model_key: str = ""
    model_options: list[dict[str, str]] = []
    no_models: str = ""
    # Streaming.
    streaming: bool = False
    error: str = ""
    retry_parent: str = ""
    editing_id: str = ""
    draft: str = ""
    # Backend only.
    _cursor: str = ""
    _stop: bool = False
    _convs: list[chat.ConversationInfo] = []
    _ctx: Ctx | None = None
    _armed: str = ""
    _history: list[ChatMessage] = []
    _insert: dict[str, str] = {}

    # Loading --------------------------------------------------------------------------------------------

    @rx.event
    async def load(self):
        """on_load of / and /c/[cid]."""
        self.error = ""
        self.results = []
        self.search_query = ""
        try:
            ctx = await require_user(self)
        except ServiceError:
            return
        await self._load_models(ctx)
        await self._load_labels(ctx)
        await self._load_sidebar(ctx, reset=True)
        cid = request.path_tail(self, "/c/")
        focus = _uuid_or_none(self.router.url.query_parameters.get("m", ""))
        self.focus_message = str(focus) if focus else ""
        if not self.streaming:
            (await self.get_state(StreamState)).text = ""
        if cid:
            await self._open(ctx, cid)
            if self.focus_message:  # a search result: show the matching message
                return rx.call_script(
                    f"setTimeout(() => document.getElementById('msg-{self.focus_message}')"
                    "?.scrollIntoView({block: 'center'}), 150)"
                )
        else:
            self.conversation_id, self.title, self.messages, self.pinned = "", "", [], False
        return None

    async def _load_models(self, ctx: Ctx) -> None:
        cat = await ai_catalog.catalog(ctx)
        self.model_options = [{"key": m.key, "label": f"{m.provider_label} · {m.model}"} for m in cat.enabled]
        self.no_models = "" if cat.enabled else ai_catalog.HOW_TO_CONFIGURE
        if self.model_key not in {m.key for m in cat.enabled}:
            self.model_key = cat.default or ""

    async def _load_sidebar(self, ctx: Ctx, *, reset: bool) -> None:
        cursor = None if reset else self._cursor or None
        self._apply_sidebar(
            await chat.list_conversations(ctx, self._filters(), cursor=cursor, page_size=PAGE_SIZE),
            reset=reset,
        )

    def _filters(self) -> chat.ConversationFilters:
        kind, _, ident = self.view.partition(":")
        if kind == "pinned":
            return chat.ConversationFilters(pinned=True)
        if kind == "archived":
            return chat.ConversationFilters(archived=True)
        if kind == "folder" and (folder_id := _uuid_or_none(ident)):
            return chat.ConversationFilters(folder_id=folder_id)
        if kind == "tag" and (tag_id := _uuid_or_none(ident)):
            return chat.ConversationFilters(tag_id=tag_id)
        return chat.ConversationFilters()

    async def _load_labels(self, ctx: Ctx) -> None:
        self.folders = [{"id": str(f.id), "name": f.name} for f in await chat.list_folders(ctx)]
        self.tags = [{"id": str(t.id), "name": t.name} for t in await chat.list_tags(ctx)]

    def _apply_sidebar(self, page: chat.ConversationPage, *, reset: bool) -> None:
        convs = ([] if reset else list(self._convs)) + list(page.items)
        self._convs = convs
        self._cursor = page.next_cursor or ""
        self.has_more = page.next_cursor is not None
        groups = chat.group_by_day(convs, now=datetime.now(UTC), utc_offset_minutes=self.utc_offset)
        self.groups = [{"label": g.label, "items": [_conv_dict(c) for c in g.items]} for g in groups]

    @rx.event
    async def set_utc_offset(self, minutes: int):
        """The browser's time zone, so Today / Yesterday follow the user's calendar."""
        if isinstance(minutes, int) and -900 <= minutes <= 900 and minutes != self.utc_offset:
            self.utc_offset = minutes
            with contextlib.suppress(ServiceError):
                await self._load_sidebar(await require_user(self), reset=True)

    async def _open(self, ctx: Ctx, cid: str) -> None:
        try:
            conv = await chat.get_conversation(ctx, uuid.UUID(cid))
        except (ServiceError, ValueError):
            self.error = "This conversation does not exist or is not yours."
            self.conversation_id, self.messages = "", []
            return
        self.conversation_id, self.title, self.pinned = str(conv.id), conv.title, conv.pinned
        key = ai_catalog.model_key(conv.provider, conv.model) if conv.provider and conv.model else ""
        if key and key in {o["key"] for o in self.model_options}:
            self.model_key = key
        await self._load_messages(ctx)

    async def _load_messages(self, ctx: Ctx) -> None:
        tree = await chat.get_tree(ctx, uuid.UUID(self.conversation_id))
        self.title, self.pinned = tree.conversation.title, tree.conversation.pinned
        self.messages = [_msg_dict(step) for step in tree.path()]
        last = self.messages[-1] if self.messages else None
        self.retry_parent = ""
        if last and last["role"] == "assistant" and last["status"] == "error":
            self.error = last["error"]

    @rx.event
    async def load_more(self):
        if not self.has_more:
            return
        try:
            ctx = await require_user(self)
            await self._load_sidebar(ctx, reset=False)
        except ServiceError as exc:
            self.error = str(exc)

    # Models ---------------------------------------------------------------------------------------------

    @rx.event
    async def choose_model(self, key: str):
        try:
            ctx = await require_user(self)
            await ai_catalog.provider_for(ctx, key)  # validates: enabled, configured
            self.model_key = key
            if self.conversation_id:
                provider_id, model = ai_catalog.split_key(key)
                await chat.set_model(ctx, uuid.UUID(self.conversation_id), provider_id, model)
        except ServiceError as exc:
            self.error = str(exc)

    # Sending and streaming ------------------------------------------------------------------------------

    @rx.event
    async def send(self, form: dict):
        text = str(form.get("message", "")).strip()
        if self.streaming or not text:
            return
        async for update in self._submit(text, parent_id=self._leaf_id(), new_branch=False):
            yield update

    def _leaf_id(self) -> str:
        return self.messages[-1]["id"] if self.messages else ""

    async def _submit(self, text: str, *, parent_id: str, new_branch: bool) -> AsyncIterator[Any]:
        """Show the user's message and start the reply at once. The reply task stores the message (one
        INSERT) while the provider is being asked, and stores the reply only after that INSERT."""
        self.error = ""
        try:
            text = clean_user_text(text)
            ctx = await require_user(self)
            if not self.model_key:
                self.error = self.no_models or "Choose a model first."
                return
            provider_id, model = ai_catalog.split_key(self.model_key)
            if not self.conversation_id:
                conv = await chat.create_conversation(ctx, provider=provider_id, model=model)
                self.conversation_id, self.title = str(conv.id), conv.title
        except ServiceError as exc:
            self.error = str(exc)
            return
        msg_id = str(uuid.uuid4())
        self.draft = ""
        self.editing_id = ""
        if new_branch:
            self.messages = [*self.messages[: self._index(parent_id) + 1]] if parent_id else []
        self.messages = [*self.messages, _pending_msg_dict(uuid.UUID(msg_id), text)]
        self._insert = {
            "id": msg_id,
            "parent": parent_id,
            "text": text,
            "branch": "yes" if new_branch else "",
        }
        yield [
            rx.call_script(f"window.history.replaceState(null, '', '/c/{self.conversation_id}')"),
            self._arm(ctx, msg_id),
        ]

    def _index(self, message_id: str) -> int:
        ids = [m["id"] for m in self.messages]
        return ids.index(message_id) if message_id in ids else -1

    def _arm(self, ctx: Ctx, parent_id: str) -> Any:
        """Prepare the background reply to `parent_id` (a message on the visible branch). Only a handler that
        has just authorised the user arms it: a browser cannot start a reply by calling stream_reply."""
        ids = [m["id"] for m in self.messages]
        path = self.messages[: ids.index(parent_id) + 1] if parent_id in ids else self.messages
        self._history = [ChatMessage(role=m["role"], content=m["text"]) for m in path if m["text"]]
        self._ctx, self._armed = ctx, parent_id
        self._stop = False
        self.streaming = True
        self.error = ""
        self.retry_parent = ""
        return ChatState.stream_reply(parent_id)  # type: ignore[misc]

    @rx.event
    def stop(self):
        self._stop = True
        _STOPPED.add(self.router.session.client_token)

    @rx.event(background=True)
    async def stream_reply(self, parent_id: str):
        async with self:
            if not parent_id or self._armed != parent_id or self._ctx is None:
                return
            cid, key, ctx, history = self.conversation_id, self.model_key, self._ctx, list(self._history)
            pending = dict(self._insert) if self._insert.get("id") == parent_id else None
            self._armed, self._ctx, self._history, self._insert = "", None, [], {}
            (await self.get_state(StreamState)).text = ""
        partial = ""
        # The user's message is written while the provider is asked; the reply waits for it.
        insert = asyncio.create_task(self._store_user_message(ctx, cid, pending)) if pending else None

        async def on_text(text: str) -> None:
            nonlocal partial
            partial = text
            async with self:
                (await self.get_state(StreamState)).text = text

        token = self.router.session.client_token
        _STOPPED.discard(token)
        last_check = time.monotonic()

        async def should_stop() -> bool:
            """Polled at each flush: the Stop button in this process is seen at once without taking the
            state lock; the state itself (a Stop that reached another worker) is read once a second."""
            nonlocal last_check
            if insert is not None and insert.done() and insert.result() is not None:
                return True  # the user's message could not be stored: do not go on
            if token in _STOPPED:
                return True
            if time.monotonic() - last_check < 1.0:
                return False
            last_check = time.monotonic()
            async with self:
                return self._stop

        started = datetime.now(UTC)
        try:
            provider, model, _label = await ai_catalog.provider_for(ctx, key)
            outcome = await run_reply(provider, model, history, on_text=on_text, should_stop=should_stop)
        except ServiceError as exc:
            if await self._user_message_failed(insert):
                return
            await self._finish(ctx, cid, parent_id, key, "", "error", str(exc), None)
            return
        except asyncio.CancelledError:
            # The server is stopping: keep what arrived, marked unfinished.
            if insert is not None:
                await asyncio.shield(insert)
            await asyncio.shield(
                self._finish(
                    ctx, cid, parent_id, key, partial, "unfinished", "The reply was interrupted.", None
                )
            )
            raise
        finally:
            _STOPPED.discard(token)
        if await self._user_message_failed(insert):
            return
        await self._finish(ctx, cid, parent_id, key, outcome.text, outcome.status, outcome.error, outcome)
        if outcome.status == "complete":
            await self._maybe_title(ctx, cid, provider, model)
        log.debug("reply in %s", datetime.now(UTC) - started)

    async def _store_user_message(self, ctx: Ctx, cid: str, pending: dict[str, str]) -> str | None:
        """INSERT the user's message; None when stored, else the error to show."""
        try:
            await chat.add_user_message(
                ctx,
                uuid.UUID(cid),
                _uuid_or_none(pending["parent"]),
                pending["text"],
                message_id=uuid.UUID(pending["id"]),
            )
        except ServiceError as exc:
            return f"Your message was not saved: {exc}"
        if pending.get("branch"):  # an edit: the branch's sibling counts changed
            steps = (await chat.get_tree(ctx, uuid.UUID(cid))).path()
            async with self:
                if cid == self.conversation_id:
                    self.messages = [_msg_dict(step) for step in steps]
        return None

    async def _user_message_failed(self, insert: asyncio.Task[str | None] | None) -> bool:
        """Wait for the user's message to be stored; on failure show why and end the reply unsaved."""
        error = await insert if insert is not None else None
        if error is None:
            return False
        async with self:
            self.streaming = False
            (await self.get_state(StreamState)).text = ""
            self.error = error
            if self.messages and self.messages[-1]["role"] == "user":
                # Keep what the user typed on screen (to copy or send again), marked as not saved.
                self.messages = [
                    *self.messages[:-1],
                    {**self.messages[-1], "status": "error", "error": error},
                ]
        return True

    async def _finish(
        self, ctx: Ctx, cid: str, parent_id: str, key: str, text: str, status: str, error: str, outcome: Any
    ) -> None:
        """Store the reply once, then update the page. Database work happens outside the state lock."""
        provider_id, _, model = key.partition("/")
        saved: chat.MessageInfo | None = None
        try:
            saved = await chat.save_assistant_message(
                ctx,
                uuid.UUID(cid),
                uuid.UUID(parent_id),
                text=text,
                status=status,
                error_text=error,
                provider=provider_id,
                model=model,
                prompt_tokens=outcome.prompt_tokens if outcome else None,
                completion_tokens=outcome.completion_tokens if outcome else None,
                ttft_ms=outcome.ttft_ms if outcome else None,
                duration_ms=outcome.duration_ms if outcome else None,
            )
        except ServiceError as exc:
            error = f"{error} (and the reply could not be saved: {exc})" if error else str(exc)
            status = "error"
        async with self:
            filters = self._filters()
            showing = cid == self.conversation_id
            # A reply to the last message shown is appended; a regenerated one changes sibling counts.
            append = saved is not None and bool(self.messages) and self.messages[-1]["id"] == parent_id
        steps = (await chat.get_tree(ctx, uuid.UUID(cid))).path() if showing and not append else None
        page = await chat.list_conversations(ctx, filters, page_size=PAGE_SIZE)
        async with self:
            self.streaming = False
            (await self.get_state(StreamState)).text = ""
            if cid == self.conversation_id:
                if steps is not None:
                    self.messages = [_msg_dict(step) for step in steps]
                elif saved is not None:
                    self.messages = [*self.messages, _new_msg_dict(saved)]
            self.error = error if status == "error" else ""
            self.retry_parent = parent_id if status == "error" else ""
            self._apply_sidebar(page, reset=True)

    async def _maybe_title(self, ctx: Ctx, cid: str, provider: Any, model: str) -> None:
        """After the first exchange: a title from the model, else from the first words."""
        async with self:
            if cid != self.conversation_id or self.title != DEFAULT_TITLE or not self.messages:
                return
            first = self.messages[0]["text"]
            filters = self._filters()
        title = ""
        with contextlib.suppress(Exception):
            prompt = [
                ChatMessage(
                    role="system",
                    content="Reply with a short title (3 to 6 words) for this chat. "
                    "No quotes, no punctuation at the end.",
                ),
                ChatMessage(role="user", content=first[:2000]),
            ]
            stream = provider.stream_chat(model, prompt, max_tokens=24)
            reply = await asyncio.wait_for(collect_reply(stream), 20)
            title = " ".join(reply.text.split()).strip('"').strip()[:80] if reply.ok else ""
        title = title or chat.fallback_title(first)
        await chat.set_title(ctx, uuid.UUID(cid), title)
        page = await chat.list_conversations(ctx, filters, page_size=PAGE_SIZE)
        async with self:
            if cid == self.conversation_id:
                self.title = title
            self._apply_sidebar(page, reset=True)

    @rx.event
    async def retry(self):
        if self.streaming or not self.retry_parent:
            return None
        try:
            ctx = await require_user(self)
        except ServiceError as exc:
            self.error = str(exc)
            return None
        return self._arm(ctx, self.retry_parent)

    @rx.event
    async def regenerate(self, assistant_id: str):
        ids = [m["id"] for m in self.messages]
        if self.streaming or assistant_id not in ids or ids.index(assistant_id) < 1:
            return None
        try:
            ctx = await require_user(self)
        except ServiceError as exc:
            self.error = str(exc)
            return None
        return self._arm(ctx, ids[ids.index(assistant_id) - 1])

    @rx.event
    def start_edit(self, message_id: str):
        item = next((m for m in self.messages if m["id"] == message_id), None)
        if item:
            self.editing_id, self.draft = message_id, item["text"]

    @rx.event
    def cancel_edit(self):
        self.editing_id, self.draft = "", ""

    @rx.event
    def set_draft(self, value: str):
        self.draft = value

    @rx.event
    async def save_edit(self):
        if self.streaming or not self.editing_id or not self.draft.strip():
            return
        idx = next((i for i, m in enumerate(self.messages) if m["id"] == self.editing_id), -1)
        if idx < 0:
            return
        parent = self.messages[idx - 1]["id"] if idx > 0 else ""
        async for update in self._submit(self.draft.strip(), parent_id=parent, new_branch=True):
            yield update

    @rx.event
    async def show_sibling(self, message_id: str):
        if self.streaming or not message_id:
            return
        try:
            ctx = await require_user(self)
            await chat.select_sibling(ctx, uuid.UUID(self.conversation_id), uuid.UUID(message_id))
            await self._load_messages(ctx)
        except (ServiceError, ValueError) as exc:
            self.error = str(exc)

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
                await chat.move_to_folder(ctx, conv_id, _uuid_or_none(str(value)))
            elif action == "tag":
                await chat.tag_conversation(ctx, conv_id, uuid.UUID(str(value)))
            elif action == "untag":
                await chat.untag_conversation(ctx, conv_id, uuid.UUID(str(value)))
            await self._load_sidebar(ctx, reset=True)
            if cid == self.conversation_id:
                if action in ("delete", "archive") and value is not False:
                    self.conversation_id, self.messages, self.title = "", [], ""
                else:
                    await self._open(ctx, cid)
        except (ServiceError, ValueError) as exc:
            self.error = str(exc)

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
            await self._load_sidebar(await require_user(self), reset=True)
        except ServiceError as exc:
            self.error = str(exc)

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
            self.error = str(exc)

    @rx.event
    async def confirm_delete(self):
        cid = self.dialog_target
        self.dialog = self.dialog_target = ""
        was_open = cid == self.conversation_id
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
            hits = await chat.search(ctx, query, filters, limit=30)
        except ServiceError as exc:
            self.error = str(exc)
            return
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
