"""The chat page: loading it, the open conversation (messages, branches, editing) and the model.
Export/import is `state.chat_io.ChatIOState`; the sidebar is `state.chat_sidebar.SidebarState`; sending and streaming replies is
`state.chat_stream.ReplyState` (the streamed text itself is `StreamState`). All are flat substates of
rx.State that reach each other with `get_state`."""

from __future__ import annotations

import uuid
from typing import Any

import reflex as rx

from services import ai_catalog, chat
from services.context import Ctx
from services.errors import ServiceError
from state import request
from state.chat_sidebar import SidebarState, uuid_or_none
from state.session import require_user


def msg_dict(step: chat.PathStep) -> dict[str, Any]:
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


def plain_msg_dict(message_id: str, role: str, text: str, **extra: str) -> dict[str, Any]:
    """A message shown before (or without) being read back from the database."""
    base = {"id": message_id, "role": role, "text": text, "status": "complete", "error": "", "model": ""}
    return {**base, **extra, "index": 1, "count": 1, "prev_id": "", "next_id": ""}


class StreamState(rx.State):
    """The reply being streamed: one small var in its own state, so each update re-renders only the
    streaming bubble, not the conversation or the sidebar."""

    text: str = ""


class ChatState(rx.State):
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
    # The reply (driven by ReplyState).
    streaming: bool = False
    answering: list[str] = []  # ids of this tab's conversations whose reply is streaming
    error: str = ""
    retry_parent: str = ""
    editing_id: str = ""
    draft: str = ""

    # Loading --------------------------------------------------------------------------------------------

    @rx.event
    async def load(self):
        """on_load of / and /c/[cid]."""
        self.error = ""
        try:
            ctx = await require_user(self)
        except ServiceError:
            return
        await self._load_models(ctx)
        await (await self.get_state(SidebarState))._load_all(ctx)
        cid = request.path_tail(self, "/c/")
        focus = uuid_or_none(self.router.url.query_parameters.get("m", ""))
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
        await (await self.get_state(SidebarState))._reload(ctx, reset=reset)

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
        self.messages = [msg_dict(step) for step in tree.path()]
        last = self.messages[-1] if self.messages else None
        self.retry_parent = ""
        if last and last["role"] == "assistant" and last["status"] == "error":
            self.error = last["error"]
            self.retry_parent = self.messages[-2]["id"] if len(self.messages) > 1 else ""

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

    # Branches and editing -------------------------------------------------------------------------------

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
    async def show_sibling(self, message_id: str):
        if self.streaming or not message_id:
            return
        try:
            ctx = await require_user(self)
            await chat.select_sibling(ctx, uuid.UUID(self.conversation_id), uuid.UUID(message_id))
            await self._load_messages(ctx)
        except (ServiceError, ValueError) as exc:
            self.error = str(exc)
