"""The chat page: loading it, the open conversation (messages in pages, branches, editing) and the model.
Export/import is `state.chat_io.ChatIOState`; the sidebar is `state.chat_sidebar.SidebarState`; sending and streaming
replies is `state.chat_stream.ReplyState` (the streamed text itself is `StreamState`). All are flat substates of
rx.State that reach each other with `get_state`.

The visible branch is held in three list vars so that no change re-sends more than it must (Reflex sends a list var
whole whenever it changes): `older` (pages loaded as the user scrolls up), `messages` (the newest page, read when the
conversation opens) and `tail` (what was added since). Sending a message touches `tail` only, so its cost does not
depend on the length of the conversation.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import reflex as rx

from services import ai_catalog, chat
from services.agents import avatars
from services.agents import store as agent_store
from services.context import Ctx
from services.errors import ServiceError
from services.turns.failure import headline
from state import request
from state.attachments import chip
from state.chat_sidebar import SidebarState, uuid_or_none
from state.session import require_user

PAGE = 50  # messages read when a conversation opens, and per "load earlier" page
TAIL_MAX = (
    60  # past this, the oldest of `tail` move into `messages` (one larger update, then small ones again)
)

# The latest text of each reply streaming in this process, by (client token, conversation id): a tab that comes
# back to a conversation mid-reply shows what has arrived at once, not only from the next chunk on.
LIVE: dict[tuple[str, str], str] = {}


def _files(parts: tuple[dict[str, Any], ...]) -> list[dict[str, str]]:
    """The attachment chips of a message, from its stored parts (a deleted file keeps its name, loses its link)."""
    out = []
    for p in parts:
        if p.get("type") != "file":
            continue
        file_id, kind = str(p.get("file_id") or ""), str(p.get("kind") or "")
        shown = chip(
            file_id or "gone",
            str(p.get("name") or "file"),
            size=int(p.get("size") or 0),
            file_id=file_id,
            kind=kind,
        )
        out.append({**shown, "href": f"/api/files/{file_id}/download" if file_id else ""})
    return out


def _sources(parts: tuple[dict[str, Any], ...]) -> list[dict[str, str]]:
    out = []
    for p in parts:
        if p.get("type") != "citation":
            continue
        file_id, page = str(p.get("file_id") or ""), p.get("page")
        href = (
            f"/files?file={file_id}" + (f"&page={page}" if isinstance(page, int) else "") if file_id else ""
        )
        out.append(
            {
                "n": str(p.get("n", "")),
                "name": str(p.get("name") or "file"),
                "page": str(page) if isinstance(page, int) else "",
                "snippet": str(p.get("snippet") or ""),
                "href": href,
            }
        )
    return out


def _json_text(value: Any, limit: int = 2000) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, indent=1)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def tool_cards(parts: Any) -> list[dict[str, str]]:
    """An agent reply's tool calls, as its cards show them (tool, status, time; arguments and result)."""
    cards = []
    for p in parts or ():
        if p.get("type") != "tool_call" or "status" not in p:
            continue
        ms = p.get("duration_ms")
        cards.append(
            {
                "id": str(p.get("id") or ""),
                "name": str(p.get("name") or "tool"),
                "status": str(p.get("status") or ""),
                "arguments": _json_text(p.get("arguments") or {}),
                "result": _json_text(p.get("result") or ""),
                "error": str(p.get("error") or ""),
                "time": f"{int(ms)} ms"
                if isinstance(ms, int | float) and ms < 10_000
                else (f"{ms / 1000:.1f} s" if isinstance(ms, int | float) else ""),
            }
        )
    return cards


def split_at_tools(text: str, parts: Any) -> tuple[str, str]:
    """(the text before the first tool call, the rest): the cards sit between them; ("", text) without calls."""
    for p in parts or ():
        if p.get("type") == "tool_call" and "status" in p:
            at = min(max(int(p.get("at") or 0), 0), len(text))
            return text[:at].rstrip(), text[at:].lstrip()
    return "", text


def _memory_ids(parts: tuple[dict[str, Any], ...]) -> list[str]:
    """The ids of the memories a reply was given (its "memories" part), for "Used N memories"."""
    for p in parts:
        if p.get("type") == "memories" and isinstance(p.get("ids"), list):
            return [str(i) for i in p["ids"]][:200]
    return []


def msg_dict(step: chat.PathStep, labels: dict[str, str] | None = None) -> dict[str, Any]:
    m = step.message
    failed = m.status == "error"
    return {
        "id": str(m.id),
        "role": m.role,
        "text": m.text,
        "status": m.status,
        "error": headline(m.error_text, (labels or {}).get(m.provider, "")) if failed else "",
        "detail": m.error_text if failed else "",
        "model": m.model,
        "index": step.index + 1,
        "count": step.count,
        "prev_id": str(step.previous_id) if step.previous_id else "",
        "next_id": str(step.next_id) if step.next_id else "",
        "files": _files(m.content_parts),
        "sources": _sources(m.content_parts),
        "memories": _memory_ids(m.content_parts),
        "tools": tool_cards(m.content_parts),
        "lead": split_at_tools(m.text, m.content_parts)[0],
        "after": split_at_tools(m.text, m.content_parts)[1],
    }


def plain_msg_dict(message_id: str, role: str, text: str, **extra: Any) -> dict[str, Any]:
    """A message shown before (or without) being read back from the database."""
    base = {
        "id": message_id, "role": role, "text": text, "status": "complete", "error": "", "detail": "",
        "model": "", "index": 1, "count": 1, "prev_id": "", "next_id": "", "files": [], "sources": [], "memories": [],
        "tools": [], "lead": "", "after": text,
    }  # fmt: skip
    return {**base, **extra}


class StreamState(rx.State):
    """The reply being streamed in the conversation shown: one small var in its own state, so each update
    re-renders only the streaming bubble, not the conversation or the sidebar."""

    text: str = ""
    tools: list[dict[str, str]] = []  # the agent's tool calls so far, as cards
    lead: str = ""  # with tool calls: the text before the first one...
    after: str = ""  # ...and the text since (the cards sit between)
    _at: int = -1  # where the first tool call sits in the text (-1: none yet)

    def _show(self, text: str, parts: list[dict[str, Any]] | None = None) -> None:
        if parts is not None:
            self.tools = tool_cards(parts)
            first = next((p for p in parts if p.get("type") == "tool_call"), None)
            self._at = int(first.get("at") or 0) if first is not None else -1
        self.text = text
        if self._at >= 0:
            self.lead, self.after = text[: self._at].rstrip(), text[self._at :].lstrip()

    def _reset(self) -> None:
        self.text = self.lead = self.after = ""
        self.tools, self._at = [], -1


class ChatState(rx.State):
    # The open conversation.
    conversation_id: str = ""
    title: str = ""
    pinned: bool = False
    older: list[dict[str, Any]] = []
    messages: list[dict[str, Any]] = []
    tail: list[dict[str, Any]] = []
    has_older: bool = False
    focus_message: str = ""
    # The agent the conversation chats with ("": plain chat): its header, starters for a new chat.
    agent_id: str = ""
    agent_name: str = ""
    agent_avatar: str = ""
    agent_avatar_url: str = ""  # an uploaded image (then agent_avatar is "")
    agent_description: str = ""
    agent_starters: list[str] = []
    agent_note: str = ""  # why the conversation's agent is not available any more
    # Models.
    model_key: str = ""
    model_options: list[dict[str, str]] = []
    no_models: str = ""
    # Replies (driven by ReplyState). Several conversations of a tab may be answering at once.
    answering: list[str] = []  # ids of this tab's conversations whose reply is streaming
    streaming: bool = False  # the conversation shown is one of them
    stream_count: int = (
        0  # > 0: the streaming reply is version `stream_count` of `stream_count` (a regeneration)
    )
    error: str = ""  # a problem that belongs to no message (shown above the composer)
    notice: str = ""  # a hint about the composer (a message kept while a reply streams)
    retry_id: str = ""  # the failed reply (or unsaved message) that offers Retry
    retry_banner: bool = False  # Retry beside `error` (the turn broke before any reply existed)
    editing_id: str = ""
    draft: str = ""
    # Backend only.
    _retry_parent: str = ""  # the message Retry answers again
    _labels: dict[str, str] = {}  # provider id -> label, for error headlines

    # The visible branch ----------------------------------------------------------------------------------

    def _path(self) -> list[dict[str, Any]]:
        return [*self.older, *self.messages, *self.tail]

    def _find(self, message_id: str) -> int:
        for i, m in enumerate(self._path()):
            if m["id"] == message_id:
                return i
        return -1

    def _last(self) -> dict[str, Any] | None:
        for part in (self.tail, self.messages, self.older):
            if part:
                return part[-1]
        return None

    def _cut(self, keep: int, add: list[dict[str, Any]] | None = None) -> None:
        """Keep the first `keep` messages of the branch, then `add`; only the lists that change are assigned."""
        add = add or []
        lo, lm = len(self.older), len(self.messages)
        if keep >= lo + lm:
            new_tail = [*self.tail[: keep - lo - lm], *add]
            if len(new_tail) > TAIL_MAX:
                self.messages, new_tail = [*self.messages, *new_tail[:-10]], new_tail[-10:]
            self.tail = new_tail
            return
        if keep >= lo:
            self.messages = self.messages[: keep - lo]
        else:
            self.older = self.older[:keep]
            if self.messages:
                self.messages = []
        self.tail = add

    def _append(self, item: dict[str, Any]) -> None:
        self._cut(len(self.older) + len(self.messages) + len(self.tail), [item])

    def _replace(self, message_id: str, item: dict[str, Any]) -> None:
        for name in ("tail", "messages", "older"):
            part: list[dict[str, Any]] = getattr(self, name)
            for i, m in enumerate(part):
                if m["id"] == message_id:
                    setattr(self, name, [*part[:i], item, *part[i + 1 :]])
                    return

    def _show_window(self, window: chat.PathWindow) -> None:
        self.older, self.tail = [], []
        self.messages = [msg_dict(step, self._labels) for step in window.steps]
        self.has_older = window.has_older
        self.title, self.pinned = window.conversation.title, window.conversation.pinned
        self._offer_retry()

    def _offer_retry(self) -> None:
        """A failed last reply offers Retry (on the message itself: one message per failure)."""
        path_tail = [*self.messages, *self.tail][-2:]
        last = path_tail[-1] if path_tail else None
        self.retry_id = self._retry_parent = ""
        self.retry_banner = False
        if last and last["role"] == "assistant" and last["status"] == "error" and len(path_tail) == 2:
            self.retry_id, self._retry_parent = last["id"], path_tail[0]["id"]

    def _sync_streaming(self) -> None:
        self.streaming = bool(self.conversation_id) and self.conversation_id in self.answering
        if not self.streaming:
            self.stream_count = 0

    def _set_agent(self, agent: Any | None, note: str = "") -> None:
        self.agent_id = str(agent.id) if agent is not None else ""
        self.agent_name = agent.name if agent is not None else ""
        image = avatars.url(agent.avatar) if agent is not None else ""
        self.agent_avatar_url = image
        self.agent_avatar = "" if image or agent is None else (agent.avatar or "🤖")
        self.agent_description = agent.description if agent is not None else ""
        self.agent_starters = list(agent.starters) if agent is not None else []
        self.agent_note = note

    async def _load_agent(self, ctx: Ctx, agent_id: uuid.UUID | None, *, choose_model: bool) -> None:
        """The conversation's (or the new chat's) agent, if the member may still use it."""
        if agent_id is None:
            self._set_agent(None)
            return
        try:
            agent = await agent_store.get_agent(ctx, agent_id)
        except ServiceError:
            self._set_agent(
                None, "The agent of this chat is no longer available to you: it goes on as a plain chat."
            )
            return
        self._set_agent(agent)
        if choose_model and agent.model and agent.model in {o["key"] for o in self.model_options}:
            self.model_key = agent.model

    def _clear_conversation(self) -> None:
        self._set_agent(None)
        self.conversation_id, self.title, self.pinned = "", "", False
        self.older, self.messages, self.tail, self.has_older = [], [], [], False
        self.retry_id = self._retry_parent = self.editing_id = self.draft = ""
        self.retry_banner = False

    # Loading --------------------------------------------------------------------------------------------

    @rx.event
    async def load(self):
        """on_load of / and /c/[cid]."""
        self.error = self.notice = ""
        try:
            ctx = await require_user(self)
        except ServiceError:
            return None
        await self._load_models(ctx)
        await (await self.get_state(SidebarState))._load_all(ctx)
        cid = request.path_tail(self, "/c/")
        focus = uuid_or_none(self.router.url.query_parameters.get("m", ""))
        self.focus_message = str(focus) if focus else ""
        token = self.router.session.client_token
        if cid:
            await self._open(ctx, cid)
        else:
            self._clear_conversation()
            # "Chat" on an agent's card: a new chat with it (/?agent=<id>), once the member may use it.
            wanted = uuid_or_none(str(self.router.url.query_parameters.get("agent", ""))[:40])
            if wanted is not None:
                await self._load_agent(ctx, wanted, choose_model=True)
        self._sync_streaming()
        live = LIVE.get((token, self.conversation_id), "") if self.streaming else ""
        stream = await self.get_state(StreamState)
        stream._reset()
        stream.text = live
        if cid and self.focus_message:  # a search result: show the matching message
            return rx.call_script(f"window.soloChat && window.soloChat.reveal('msg-{self.focus_message}')")
        return None

    async def _load_models(self, ctx: Ctx) -> None:
        cat = await ai_catalog.catalog(ctx)
        self.model_options = [{"key": m.key, "label": f"{m.provider_label} · {m.model}"} for m in cat.enabled]
        self._labels = {m.provider_id: m.provider_label for m in cat.enabled}
        self.no_models = "" if cat.enabled else ai_catalog.HOW_TO_CONFIGURE
        if self.model_key not in {m.key for m in cat.enabled}:
            self.model_key = cat.default or ""

    async def _load_sidebar(self, ctx: Ctx, *, reset: bool) -> None:
        await (await self.get_state(SidebarState))._reload(ctx, reset=reset)

    async def _open(self, ctx: Ctx, cid: str) -> None:
        try:
            window = await chat.path_window(ctx, uuid.UUID(cid), limit=PAGE)
        except (ServiceError, ValueError):
            self._clear_conversation()
            self.error = "This conversation does not exist or is not yours."
            return
        conv = window.conversation
        self.conversation_id = str(conv.id)
        self.editing_id = self.draft = ""
        key = ai_catalog.model_key(conv.provider, conv.model) if conv.provider and conv.model else ""
        if key and key in {o["key"] for o in self.model_options}:
            self.model_key = key
        self._show_window(window)
        await self._load_agent(ctx, conv.agent_id, choose_model=False)

    async def _reload_window(self, ctx: Ctx) -> None:
        self._show_window(await chat.path_window(ctx, uuid.UUID(self.conversation_id), limit=PAGE))

    @rx.event
    async def load_older(self):
        """The page of messages above the first one shown (the user scrolled to the top)."""
        first = self._path()[0]["id"] if self._path() else ""
        if not self.has_older or not first or not self.conversation_id:
            return
        try:
            ctx = await require_user(self)
            window = await chat.path_window(
                ctx, uuid.UUID(self.conversation_id), before=uuid.UUID(first), limit=PAGE
            )
        except (ServiceError, ValueError) as exc:
            self.error = str(exc)
            return
        self.older = [*(msg_dict(step, self._labels) for step in window.steps), *self.older]
        self.has_older = window.has_older

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
        if self.streaming:
            return
        index = self._find(message_id)
        if index >= 0:
            self.editing_id, self.draft = message_id, self._path()[index]["text"]

    @rx.event
    def cancel_edit(self):
        self.editing_id, self.draft = "", ""

    @rx.event
    def set_draft(self, value: str):
        self.draft = value

    @rx.event
    async def show_sibling(self, message_id: str):
        if self.streaming or not message_id or not self.conversation_id:
            return
        try:
            ctx = await require_user(self)
            await chat.select_sibling(ctx, uuid.UUID(self.conversation_id), uuid.UUID(message_id))
            await self._reload_window(ctx)
        except (ServiceError, ValueError) as exc:
            self.error = str(exc)
