"""Sending a message and relaying the reply (DESIGN.md, "Streaming a reply" and "The reply turn").

Each handler authorises the user and prepares the page under the state lock, then, in the same background
task (no round trip through the browser), runs `services.turns.run_turn`: it stores the user's message (and,
for a new chat, the conversation, whose id is chosen here) while the provider is asked, streams, and stores
the reply once. This module only relays: the growing text into `StreamState.text` (at most every 50 ms),
the outcome into ChatState. Whatever happens (provider error, undecryptable key, database failure, a bug),
the page ends with `streaming` false, the error shown with Retry, and the text received on screen.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import reflex as rx

from services import ai_catalog, chat, turns
from services.chat.common import DEFAULT_TITLE
from services.chat.messages import clean_user_text
from services.context import Ctx
from services.errors import ServiceError
from state.chat import ChatState, StreamState, msg_dict, plain_msg_dict
from state.chat_sidebar import PAGE_SIZE, SidebarState, uuid_or_none
from state.session import SessionState, require_user

log = logging.getLogger("solo.chat")

# Client tokens whose Stop button was pressed in this process (read by their reply task at each flush).
_STOPPED: set[str] = set()

BROKEN = "Something went wrong while answering. Reload the page to see what was saved, then try again."


@dataclass(frozen=True, slots=True)
class _Start:
    ctx: Ctx
    cid: str
    parent_id: str  # the message the reply answers
    key: str
    user: turns.UserMessage | None
    new_chat: bool = False
    branch: bool = False


def _index(messages: list[dict[str, Any]], message_id: str) -> int:
    ids = [m["id"] for m in messages]
    return ids.index(message_id) if message_id in ids else -1


class ReplyState(rx.State):
    # Backend only.
    _stop: bool = False

    # Starting a reply (under the state lock) ------------------------------------------------------------

    async def _authorise(self, page: ChatState) -> Ctx | None:
        try:
            ctx = await require_user(self)
            if not page.model_key:
                page.error = page.no_models or "Choose a model first."
                return None
            ai_catalog.split_key(page.model_key)
        except ServiceError as exc:
            page.error = str(exc)
            return None
        return ctx

    async def _message(self, page: ChatState, text: str, parent_id: str, *, branch: bool) -> _Start | None:
        """Show the user's message at once; the turn stores it while the provider is asked."""
        if page.streaming:
            return None
        page.error = ""
        try:
            text = clean_user_text(text)
        except ServiceError as exc:
            page.error = str(exc)
            return None
        ctx = await self._authorise(page)
        if ctx is None:
            return None
        new_chat = not page.conversation_id
        if new_chat:  # the id is chosen here: nothing waits for the database before the provider is asked
            page.conversation_id, page.title, page.pinned, page.messages = (
                str(uuid.uuid4()),
                DEFAULT_TITLE,
                False,
                [],
            )
            parent_id = ""
        message_id = str(uuid.uuid4())
        page.draft = page.editing_id = ""
        if branch:
            page.messages = page.messages[: _index(page.messages, parent_id) + 1] if parent_id else []
        page.messages = [*page.messages, plain_msg_dict(message_id, "user", text)]
        user = turns.UserMessage(
            id=uuid.UUID(message_id), parent_id=uuid_or_none(parent_id), text=text, new_conversation=new_chat
        )
        return await self._begin(
            page, _Start(ctx, page.conversation_id, message_id, page.model_key, user, new_chat, branch)
        )

    async def _reply_to(self, page: ChatState, parent_id: str) -> _Start | None:
        """Answer a message already stored (Retry, Regenerate)."""
        if page.streaming or _index(page.messages, parent_id) < 0:
            return None
        ctx = await self._authorise(page)
        if ctx is None:
            return None
        return await self._begin(page, _Start(ctx, page.conversation_id, parent_id, page.model_key, None))

    async def _begin(self, page: ChatState, start: _Start) -> _Start:
        page.streaming = True
        page.error = page.retry_parent = ""
        (await self.get_state(StreamState)).text = ""
        self._stop = False
        _STOPPED.discard(self.router.session.client_token)
        return start

    @rx.event(background=True)
    async def send(self, form: dict):
        text = str(form.get("message", "")).strip()
        if not text:
            return
        async with self:
            page = await self.get_state(ChatState)
            leaf = page.messages[-1]["id"] if page.messages else ""
            start = await self._message(page, text, leaf, branch=False)
        if start is not None:
            async for update in self._run(start):
                yield update

    @rx.event(background=True)
    async def save_edit(self):
        async with self:
            page = await self.get_state(ChatState)
            idx = _index(page.messages, page.editing_id)
            start = None
            if not page.streaming and idx >= 0 and page.draft.strip():
                parent = page.messages[idx - 1]["id"] if idx > 0 else ""
                start = await self._message(page, page.draft.strip(), parent, branch=True)
        if start is not None:
            async for update in self._run(start):
                yield update

    @rx.event(background=True)
    async def retry(self):
        async with self:
            page = await self.get_state(ChatState)
            start = await self._reply_to(page, page.retry_parent) if page.retry_parent else None
        if start is not None:
            async for update in self._run(start):
                yield update

    @rx.event(background=True)
    async def regenerate(self, assistant_id: str):
        async with self:
            page = await self.get_state(ChatState)
            idx = _index(page.messages, assistant_id)
            start = await self._reply_to(page, page.messages[idx - 1]["id"]) if idx >= 1 else None
        if start is not None:
            async for update in self._run(start):
                yield update

    @rx.event
    def stop(self):
        self._stop = True
        _STOPPED.add(self.router.session.client_token)

    # Relaying the turn (outside the state lock) ---------------------------------------------------------

    async def _run(self, start: _Start) -> AsyncIterator[Any]:
        token = self.router.session.client_token
        cid = uuid.UUID(start.cid)
        last_check = time.monotonic()
        ready = asyncio.Event()

        async def on_text(text: str) -> None:
            async with self:
                if await self._theirs(start):
                    (await self.get_state(StreamState)).text = text

        async def should_stop() -> bool:
            """Polled at each flush: the Stop button in this process is seen at once without taking the
            state lock; the state itself (a Stop that reached another worker) is read once a second."""
            nonlocal last_check
            if token in _STOPPED:
                return True
            if time.monotonic() - last_check < 1.0:
                return False
            last_check = time.monotonic()
            async with self:
                return self._stop or not await self._theirs(start)

        async def on_user_stored(error: str) -> None:
            if not error:
                ready.set()
            if error or start.branch:  # not saved: say so on the message; an edit: sibling counts changed
                steps = None if error else (await chat.get_tree(start.ctx, cid)).path()
                async with self:
                    page = await self.get_state(ChatState)
                    if page.conversation_id != start.cid or not await self._theirs(start):
                        return
                    if steps is not None:
                        page.messages = [msg_dict(step) for step in steps]
                    elif page.messages and page.messages[-1]["id"] == start.parent_id:
                        page.messages = [
                            *page.messages[:-1],
                            {**page.messages[-1], "status": "error", "error": error},
                        ]

        turn = asyncio.create_task(
            turns.run_turn(
                start.ctx, cid, uuid.UUID(start.parent_id), start.key,
                on_text=on_text, should_stop=should_stop, user=start.user, on_user_stored=on_user_stored,
            )
        )  # fmt: skip
        result: turns.TurnResult | None = None
        try:
            if start.new_chat:  # the address becomes /c/<id> once the conversation exists (reloads find it)
                waiter = asyncio.ensure_future(ready.wait())
                try:
                    await asyncio.wait({turn, waiter}, return_when=asyncio.FIRST_COMPLETED)
                finally:
                    waiter.cancel()
                if ready.is_set():
                    yield rx.call_script(f"window.history.replaceState(null, '', '/c/{start.cid}')")
            result = await turn
        except asyncio.CancelledError:
            turn.cancel()  # the turn stores what it received (shielded) before it ends
            await asyncio.shield(self._end(start, None))
            raise
        except Exception:
            log.exception("the reply task failed")
        finally:
            _STOPPED.discard(token)
        await self._end(start, result)
        if result is not None and not result.failed:
            await self._name(start, result)

    async def _theirs(self, start: _Start) -> bool:
        """Whether this tab still belongs to the user who started the turn (call inside `async with self`).
        After a log-out or another sign-in the tab's states are reset; a turn still running for the previous
        user must not write its text, messages or sidebar into them."""
        return (await self.get_state(SessionState)).bound_to(start.ctx)

    async def _end(self, start: _Start, result: turns.TurnResult | None) -> None:
        """Show how the turn ended. Never raises: `streaming` always ends false."""
        steps: list[chat.PathStep] | None = None
        sidebar_page: chat.ConversationPage | None = None
        saved = result.reply if result is not None else None
        try:
            async with self:
                page = await self.get_state(ChatState)
                showing = page.conversation_id == start.cid
                # A reply to the last message shown is appended; a regenerated one changes sibling counts.
                append = bool(page.messages) and page.messages[-1]["id"] == start.parent_id
                filters = (await self.get_state(SidebarState))._filters()
            if saved is not None and showing and not append:
                steps = (await chat.get_tree(start.ctx, uuid.UUID(start.cid))).path()
            sidebar_page = await chat.list_conversations(start.ctx, filters, page_size=PAGE_SIZE)
        except Exception:
            log.exception("reading the conversation after a reply failed")
        async with self:
            if not await self._theirs(start):
                return  # the tab changed hands meanwhile: its states were reset, show nothing of this turn
            page = await self.get_state(ChatState)
            page.streaming = False
            (await self.get_state(StreamState)).text = ""
            if page.conversation_id == start.cid:
                self._show(page, start, result, steps)
            if sidebar_page is not None:
                (await self.get_state(SidebarState))._apply(sidebar_page, reset=True)

    def _show(
        self,
        page: ChatState,
        start: _Start,
        result: turns.TurnResult | None,
        steps: list[chat.PathStep] | None,
    ) -> None:
        if result is None:
            page.error, page.retry_parent = BROKEN, start.parent_id
            return
        if result.user_error:
            page.error = result.user_error
            if start.new_chat:  # nothing was stored: the next message starts a new chat again
                page.conversation_id = ""
            return
        if steps is not None:
            page.messages = [msg_dict(step) for step in steps]
        elif result.reply is not None:
            r = result.reply
            page.messages = [
                *page.messages,
                plain_msg_dict(
                    str(r.id), "assistant", r.text, status=r.status, error=r.error_text, model=r.model
                ),
            ]
        else:  # not stored: keep the text on screen, with the reason
            page.messages = [
                *page.messages,
                plain_msg_dict(
                    f"unsaved-{uuid.uuid4()}",
                    "assistant",
                    result.outcome.text,
                    status="error",
                    error=result.error,
                ),
            ]
        failed = result.store_error or result.outcome.status == "error"
        page.error = result.error if failed else ""
        page.retry_parent = start.parent_id if failed else ""

    async def _name(self, start: _Start, result: turns.TurnResult) -> None:
        """After the first exchange of a chat: a title from the model (or the first words)."""
        try:
            async with self:
                page = await self.get_state(ChatState)
                if page.conversation_id != start.cid or page.title != DEFAULT_TITLE or not page.messages:
                    return
                first = page.messages[0]["text"]
                filters = (await self.get_state(SidebarState))._filters()
            title = await turns.name_conversation(
                start.ctx, uuid.UUID(start.cid), result.provider, result.model, first
            )
            sidebar_page = await chat.list_conversations(start.ctx, filters, page_size=PAGE_SIZE)
            async with self:
                if not await self._theirs(start):
                    return
                page = await self.get_state(ChatState)
                if page.conversation_id == start.cid:
                    page.title = title
                (await self.get_state(SidebarState))._apply(sidebar_page, reset=True)
        except Exception:
            log.exception("naming the conversation failed")
