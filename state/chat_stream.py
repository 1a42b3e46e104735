"""Sending a message and relaying the reply (DESIGN.md, "Streaming a reply" and "The reply turn").

Each handler authorises the user and prepares the page under the state lock, then, in the same background
task (no round trip through the browser), runs `services.turns.run_turn`: it stores the user's message (and,
for a new chat, the conversation, whose id is chosen here) while the provider is asked, streams, and stores
the reply once. This module only relays: the growing text into `StreamState.text` (at most every 50 ms),
the outcome into ChatState. Whatever happens (provider error, undecryptable key, database failure, a bug),
the page ends with the reply no longer streaming, the error shown with Retry, and the text received on screen.

Every reply belongs to its conversation. A tab may switch to another conversation (or a new chat) while a reply
streams, and start a second one there: each turn writes its text and outcome only while its own conversation is
shown, and `ChatState.answering` lists the conversations still answering (the sidebar marks them). The title of a
new chat is made even when the user has moved on.

A message is cleared from the composer only once it was accepted: a message sent while this conversation's reply
streams stays in the box, with the reason beside it.
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
from services.agents import runner
from services.agents import store as agent_store
from services.agents.store import AgentInfo
from services.chat.common import DEFAULT_TITLE
from services.chat.messages import clean_user_text
from services.context import Ctx
from services.errors import ServiceError
from services.llm import vision
from state.attachments import AttachState
from state.chat import LIVE, PAGE, ChatState, StreamState, msg_dict, plain_msg_dict
from state.chat_sidebar import PAGE_SIZE, SidebarState, uuid_or_none
from state.session import SessionState, require_user

log = logging.getLogger("solo.chat")

# (client token, conversation id) of replies whose Stop button was pressed in this process (read at each flush).
_STOPPED: set[tuple[str, str]] = set()

BROKEN = "Something went wrong while answering. Reload the page to see what was saved, then try again."
KEPT = "Your message is kept: a reply is still coming. Send it when the reply has finished, or press Stop."

ACCEPTED = "window.soloChat && window.soloChat.sent()"  # empty the composer (and its saved draft), focus it


@dataclass(frozen=True, slots=True)
class _Start:
    ctx: Ctx
    token: str
    cid: str
    parent_id: str  # the message the reply answers
    key: str
    user: turns.UserMessage | None
    new_chat: bool = False
    branch: bool = False
    versions: int = 1  # the reply will be version `versions` of `versions` of its parent's replies
    replaces: str = ""  # a failed, empty reply this one takes the place of
    chips: tuple[
        dict[str, str], ...
    ] = ()  # the composer's attachments, given back if the message is not stored
    agent: AgentInfo | None = None  # the conversation's agent (checked: the member may use it now)


class ReplyState(rx.State):
    # Backend only: conversations whose Stop was pressed (seen by a reply running in another worker).
    _stop: list[str] = []

    # Starting a reply (under the state lock) ------------------------------------------------------------

    async def _authorise(self, page: ChatState) -> tuple[Ctx, AgentInfo | None] | None:
        """Who asks, and the conversation's agent once they may use it now (the plan gate is checked here, on
        the server, at every turn)."""
        try:
            ctx = await require_user(self)
            if not page.model_key:
                page.error = page.no_models or "Choose a model first."
                return None
            ai_catalog.split_key(page.model_key)
            agent = await agent_store.usable_agent(ctx, uuid.UUID(page.agent_id)) if page.agent_id else None
        except ServiceError as exc:
            page.error = str(exc)
            return None
        return ctx, agent

    async def _message(self, page: ChatState, text: str, parent_id: str, *, branch: bool) -> _Start | None:
        """Show the user's message at once; the turn stores it while the provider is asked."""
        if page.streaming:
            page.notice = KEPT
            return None
        page.error = page.notice = ""
        try:
            text = clean_user_text(text)
        except ServiceError as exc:
            page.error = str(exc)
            return None
        allowed = await self._authorise(page)
        if allowed is None:
            return None
        ctx, agent = allowed
        attach = await self.get_state(AttachState)
        file_ids, chips, images = attach._take() if not branch else ([], [], False)
        if images and not vision.supports_images(ai_catalog.split_key(page.model_key)[1]):
            page.error = (
                f"The model {ai_catalog.split_key(page.model_key)[1]} cannot read images. Choose a model that can "
                "(such as gpt-4o or claude-sonnet-4), or remove the image."
            )
            return None
        picked = attach._new_chat_collections()
        new_chat = not page.conversation_id
        if new_chat:  # the id is chosen here: nothing waits for the database before the provider is asked
            page._clear_conversation()
            page._set_agent(agent)  # a new chat keeps the agent it was opened with
            page.conversation_id, page.title = str(uuid.uuid4()), DEFAULT_TITLE
            parent_id = ""
        message_id = str(uuid.uuid4())
        page.draft = page.editing_id = ""
        shown = plain_msg_dict(message_id, "user", text, files=[{**c, "href": ""} for c in chips])
        attach._clear()
        if new_chat:
            attach._chosen_for = page.conversation_id
        versions = 1
        if branch:
            edited = page._path()[page._find(parent_id) + 1] if parent_id else page._path()[0]
            versions = int(edited["count"]) + 1
            shown = {**shown, "index": versions, "count": versions}
            page._cut(page._find(parent_id) + 1 if parent_id else 0, [shown])
        else:
            page._append(shown)
        user = turns.UserMessage(
            id=uuid.UUID(message_id), parent_id=uuid_or_none(parent_id), text=text, new_conversation=new_chat,
            attachments=tuple(file_ids),
            collections=tuple(dict.fromkeys([*picked, *(agent.collections if agent else ())])) if new_chat else (),
            agent=(agent.id, agent.version) if new_chat and agent is not None else None,
        )  # fmt: skip
        return await self._begin(
            page,
            _Start(
                ctx,
                self._token(),
                page.conversation_id,
                message_id,
                page.model_key,
                user,
                new_chat,
                branch,
                chips=tuple(chips),
                agent=agent,
            ),
        )

    async def _reply_to(self, page: ChatState, reply_id: str, *, retry: bool) -> _Start | None:
        """Answer again the message a stored reply answers (Regenerate; Retry of a failed reply). The new
        version streams where the old one was."""
        index = page._find(reply_id)
        if page.streaming or index < 1:
            return None
        path = page._path()
        old, parent_id = path[index], path[index - 1]["id"]
        allowed = await self._authorise(page)
        if allowed is None:
            return None
        ctx, agent = allowed
        replaces = old["id"] if retry and old["status"] == "error" and not old["text"] else ""
        if old["id"].startswith("unsaved-"):  # never stored: nothing to replace or count
            versions, replaces = int(old["count"]), ""
        else:
            versions = int(old["count"]) + (0 if replaces else 1)
        page._cut(index)
        start = _Start(
            ctx, self._token(), page.conversation_id, parent_id, page.model_key, None,
            versions=versions, replaces=replaces, agent=agent,
        )  # fmt: skip
        return await self._begin(page, start)

    def _token(self) -> str:
        return self.router.session.client_token

    async def _begin(self, page: ChatState, start: _Start) -> _Start:
        page.answering = [*page.answering, start.cid]
        page._sync_streaming()
        page.stream_count = start.versions if start.versions > 1 else 0
        page.error = page.notice = page.retry_id = page._retry_parent = ""
        page.retry_banner = False
        (await self.get_state(StreamState))._reset()
        if start.cid in self._stop:
            self._stop = [c for c in self._stop if c != start.cid]
        _STOPPED.discard((start.token, start.cid))
        LIVE[(start.token, start.cid)] = ""
        return start

    @rx.event(background=True)
    async def send(self, form: dict):
        text = str(form.get("message", "")).strip()
        if not text:
            return
        async with self:
            page = await self.get_state(ChatState)
            last = page._last()
            start = await self._message(page, text, last["id"] if last else "", branch=False)
        if start is not None:
            yield rx.call_script(ACCEPTED)
            async for update in self._run(start):
                yield update

    @rx.event(background=True)
    async def save_edit(self):
        async with self:
            page = await self.get_state(ChatState)
            index = page._find(page.editing_id)
            start = None
            if not page.streaming and index >= 0 and page.draft.strip():
                parent = page._path()[index - 1]["id"] if index > 0 else ""
                start = await self._message(page, page.draft.strip(), parent, branch=True)
        if start is not None:
            async for update in self._run(start):
                yield update

    @rx.event(background=True)
    async def retry(self):
        async with self:
            page = await self.get_state(ChatState)
            start = None
            if page.retry_id:
                start = await self._reply_to(page, page.retry_id, retry=True)
            elif page.retry_banner and page._find(page._retry_parent) >= 0 and not page.streaming:
                allowed = await self._authorise(page)
                if allowed is not None:
                    parent = page._retry_parent
                    page._cut(page._find(parent) + 1)
                    start = await self._begin(
                        page,
                        _Start(
                            allowed[0],
                            self._token(),
                            page.conversation_id,
                            parent,
                            page.model_key,
                            None,
                            agent=allowed[1],
                        ),
                    )
        if start is not None:
            async for update in self._run(start):
                yield update

    @rx.event(background=True)
    async def regenerate(self, assistant_id: str):
        async with self:
            page = await self.get_state(ChatState)
            start = await self._reply_to(page, assistant_id, retry=False)
        if start is not None:
            async for update in self._run(start):
                yield update

    @rx.event
    async def stop(self):
        """Stop the reply of the conversation shown (other conversations' replies go on)."""
        page = await self.get_state(ChatState)
        cid = page.conversation_id
        if cid and cid in page.answering:
            self._stop = [*self._stop, cid]
            _STOPPED.add((self._token(), cid))

    # Relaying the turn (outside the state lock) ---------------------------------------------------------

    async def _run(self, start: _Start) -> AsyncIterator[Any]:
        cid = uuid.UUID(start.cid)
        last_check = time.monotonic()
        ready = asyncio.Event()
        key = (start.token, start.cid)

        async def on_text(text: str) -> None:
            LIVE[key] = text
            async with self:
                page = await self.get_state(ChatState)
                if page.conversation_id == start.cid and await self._theirs(start):
                    (await self.get_state(StreamState))._show(text)

        async def should_stop() -> bool:
            """Polled at each flush: the Stop button in this process is seen at once without taking the
            state lock; the state itself (a Stop that reached another worker) is read once a second."""
            nonlocal last_check
            if key in _STOPPED:
                return True
            if time.monotonic() - last_check < 1.0:
                return False
            last_check = time.monotonic()
            async with self:
                return start.cid in self._stop or not await self._theirs(start)

        async def on_tools(parts: list[dict[str, Any]]) -> None:
            async with self:
                page = await self.get_state(ChatState)
                if page.conversation_id == start.cid and await self._theirs(start):
                    stream = await self.get_state(StreamState)
                    stream._show(LIVE.get(key, stream.text), parts)

        async def on_user_stored(error: str) -> None:
            if not error:
                ready.set()
            if error or start.branch or start.new_chat:
                await self._user_stored(start, error)

        agent = None
        if start.agent is not None:
            try:
                agent = await runner.prepare(start.ctx, start.agent, cid)
            except Exception:
                log.exception("preparing the agent failed; the reply goes on without its tools")
                agent = turns.AgentRun(instructions=start.agent.instructions)
        turn = asyncio.create_task(
            turns.run_turn(
                start.ctx, cid, uuid.UUID(start.parent_id), start.key,
                on_text=on_text, should_stop=should_stop, user=start.user, on_user_stored=on_user_stored,
                replaces=uuid_or_none(start.replaces) if start.replaces else None,
                agent=agent, on_tools=on_tools,
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
                    async with self:
                        showing = (await self.get_state(ChatState)).conversation_id == start.cid
                    if showing:
                        yield rx.call_script(f"window.history.replaceState(null, '', '/c/{start.cid}')")
            result = await turn
        except asyncio.CancelledError:
            turn.cancel()  # the turn stores what it received (shielded) before it ends
            await asyncio.shield(self._end(start, None))
            raise
        except Exception:
            log.exception("the reply task failed")
        finally:
            _STOPPED.discard(key)
            LIVE.pop(key, None)
        restore = await self._end(start, result)
        if restore:  # the message could not be stored: give its text back to the composer
            yield rx.call_script(f"window.soloChat && window.soloChat.restore({restore!r})")
        if result is not None and not result.failed:
            await self._name(start, result)

    async def _theirs(self, start: _Start) -> bool:
        """Whether this tab still belongs to the user who started the turn (call inside `async with self`).
        After a log-out or another sign-in the tab's states are reset; a turn still running for the previous
        user must not write its text, messages or sidebar into them."""
        return (await self.get_state(SessionState)).bound_to(start.ctx)

    async def _sidebar_page(self, start: _Start) -> chat.ConversationPage | None:
        try:
            async with self:
                filters = (await self.get_state(SidebarState))._filters()
            return await chat.list_conversations(start.ctx, filters, page_size=PAGE_SIZE)
        except Exception:
            log.exception("reading the sidebar after a reply failed")
            return None

    async def _user_stored(self, start: _Start, error: str) -> None:
        """The user's message is settled: a new chat enters the sidebar; an edit learns its place among its
        siblings; a message that could not be stored says so."""
        sidebar_page = await self._sidebar_page(start) if start.new_chat and not error else None
        step = None
        if start.branch and not error:
            try:
                window = await chat.path_window(start.ctx, uuid.UUID(start.cid), limit=1)
                step = window.steps[-1] if window.steps else None
            except Exception:
                log.exception("reading the edited message failed")
        async with self:
            if not await self._theirs(start):
                return
            if sidebar_page is not None:
                (await self.get_state(SidebarState))._apply(sidebar_page, reset=True)
            page = await self.get_state(ChatState)
            if page.conversation_id != start.cid:
                return
            if step is not None and str(step.message.id) == start.parent_id:
                page._replace(start.parent_id, msg_dict(step, page._labels))
            elif error:
                shown = (
                    page._path()[page._find(start.parent_id)] if page._find(start.parent_id) >= 0 else None
                )
                if shown is not None:
                    page._replace(start.parent_id, {**shown, "status": "error", "error": error})

    async def _end(self, start: _Start, result: turns.TurnResult | None) -> str:
        """Show how the turn ended. Never raises: the reply always stops streaming. Returns the text to give
        back to the composer when the user's message could not be stored."""
        step: chat.PathStep | None = None
        window: chat.PathWindow | None = None
        saved = result.reply if result is not None else None
        try:
            async with self:
                page = await self.get_state(ChatState)
                showing = page.conversation_id == start.cid
                last = page._last()
                append = last is not None and last["id"] == start.parent_id
            if saved is not None and showing:
                if not append:  # the page moved on meanwhile (reopened, another branch): read it again
                    window = await chat.path_window(start.ctx, uuid.UUID(start.cid), limit=PAGE)
                elif start.versions > 1:  # a new version: its place among its siblings
                    found = await chat.path_window(start.ctx, uuid.UUID(start.cid), limit=1)
                    step = found.steps[-1] if found.steps and found.steps[-1].message.id == saved.id else None
        except Exception:
            log.exception("reading the conversation after a reply failed")
        sidebar_page = await self._sidebar_page(start)
        async with self:
            if not await self._theirs(start):
                return ""  # the tab changed hands meanwhile: its states were reset, show nothing of this turn
            page = await self.get_state(ChatState)
            page.answering = [c for c in page.answering if c != start.cid]
            page._sync_streaming()
            if start.cid in self._stop:
                self._stop = [c for c in self._stop if c != start.cid]
            restore = ""
            if page.conversation_id == start.cid:
                (await self.get_state(StreamState))._reset()
                page.notice = ""
                restore = self._show(page, start, result, window, step)
                if result is not None and result.user_error and start.chips and start.user is not None:
                    (await self.get_state(AttachState))._put_back(
                        list(start.chips), list(start.user.attachments)
                    )
            if sidebar_page is not None:
                (await self.get_state(SidebarState))._apply(sidebar_page, reset=True)
            return restore

    def _show(
        self,
        page: ChatState,
        start: _Start,
        result: turns.TurnResult | None,
        window: chat.PathWindow | None,
        step: chat.PathStep | None,
    ) -> str:
        if result is None:
            page.error, page._retry_parent, page.retry_banner = BROKEN, start.parent_id, True
            return ""
        if result.user_error:
            page.error = result.user_error
            index = page._find(start.parent_id)
            if index >= 0:
                page._cut(index)  # the message is back in the composer instead
            if start.new_chat:  # nothing was stored: the next message starts a new chat again
                page._clear_conversation()
            return start.user.text if start.user is not None else ""
        if window is not None:
            page._show_window(window)
            return ""
        if result.reply is not None:
            r = result.reply
            if step is not None:
                shown = msg_dict(step, page._labels)
            else:
                shown = msg_dict(chat.PathStep(r, 0, 1, (r.id,)), page._labels)
        else:  # not stored: keep the text on screen, with the reason
            shown = plain_msg_dict(
                f"unsaved-{uuid.uuid4()}", "assistant", result.outcome.text, status="error",
                error="The reply could not be saved.", detail=result.error,
            )  # fmt: skip
        page._append(shown)
        page._offer_retry()
        if result.notes:
            page.notice = " ".join(result.notes)
        return ""

    async def _name(self, start: _Start, result: turns.TurnResult) -> None:
        """After the first exchange of a chat: a title from the model (or the first words), made even when the
        user has moved to another conversation meanwhile."""
        try:
            first = start.user.text if start.new_chat and start.user is not None else ""
            if not first:
                async with self:
                    page = await self.get_state(ChatState)
                    path = page._path()
                    if page.conversation_id != start.cid or page.title != DEFAULT_TITLE or page.has_older:
                        return
                    first = path[0]["text"] if path and path[0]["role"] == "user" else ""
                if not first:
                    return
            title = await turns.name_conversation(
                start.ctx, uuid.UUID(start.cid), result.provider, result.model, first
            )
            sidebar_page = await self._sidebar_page(start)
            async with self:
                if not await self._theirs(start):
                    return
                page = await self.get_state(ChatState)
                if page.conversation_id == start.cid:
                    page.title = title
                if sidebar_page is not None:
                    (await self.get_state(SidebarState))._apply(sidebar_page, reset=True)
        except Exception:
            log.exception("naming the conversation failed")
