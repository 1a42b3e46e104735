"""The agent builder's live test chat: its own small state, so that the streamed text and the tool cards, which
change many times a second, never send the form back. "Test" runs the form as it is on screen (AgentBuilderState's
draft) through services/agents/testing.py; nothing is stored."""

from __future__ import annotations

import logging
import time
from typing import Any

import reflex as rx

from services.agents import testing
from services.agents.store import AgentDraft
from services.context import Ctx
from services.errors import ServiceError
from state.agent_builder import TEST_INPUT_ID, AgentBuilderState
from state.chat import tool_cards
from state.session import SessionState, require_user

log = logging.getLogger("solo.agents")

BROKEN = "Something went wrong while testing. Try again; if it keeps failing, check the workspace's models."


# The test chat --------------------------------------------------------------------------------------------

# (client token, run id) of test replies whose Stop was pressed in this process (read at each flush).
_STOPPED: set[tuple[str, str]] = set()


class AgentTestState(rx.State):
    messages: list[dict[str, Any]] = []  # {id, role, text, error, parts: [tool cards]}
    running: bool = False
    text: str = ""  # the reply streaming now
    parts: list[dict[str, str]] = []  # its tool calls so far
    error: str = ""
    _run_id: str = ""
    _stop: str = ""  # a run whose Stop reached this state (seen by a run on another worker)

    @rx.event
    def load(self):
        """on_load of the builder: a fresh test chat (a reply still running for the last page is dropped)."""
        if self._run_id:
            _STOPPED.add((self.router.session.client_token, self._run_id))
        self.reset()

    @rx.event
    def clear(self):
        if not self.running:
            self.messages, self.error, self.text, self.parts = [], "", "", []

    @rx.event
    def stop(self):
        if self.running and self._run_id:
            self._stop = self._run_id
            _STOPPED.add((self.router.session.client_token, self._run_id))

    @rx.event(background=True)
    async def send(self, form: dict[str, Any]):
        """Run the builder's form as it is now on the test chat: the reply streams in, nothing is stored."""
        question = str(form.get("message", "")).strip()[:8000]
        async with self:
            if self.running:
                return
            self.error = ""
            try:
                ctx = await require_user(self)
                draft = (await self.get_state(AgentBuilderState)).draft()
            except ServiceError as exc:
                self.error = str(exc)
                return
            if not question:
                self.error = "Write a message to test the agent with."
                return
            turns = [(str(m["role"]), str(m["text"])) for m in self.messages if m["text"]]
            run_id = testing.new_test_id()
            token = self.router.session.client_token
            self._run_id, self._stop, self.running, self.text, self.parts = run_id, "", True, "", []
            self.messages = [
                *self.messages,
                {"id": run_id + "-q", "role": "user", "text": question, "error": "", "parts": []},
            ]
        yield rx.set_value(TEST_INPUT_ID, "")
        async for update in self._relay(ctx, draft, turns, question, run_id, token):
            yield update

    async def _theirs(self, ctx: Ctx, run_id: str) -> bool:
        """Still this run's page, for the user who started it (call inside `async with self`)."""
        return self._run_id == run_id and (await self.get_state(SessionState)).bound_to(ctx)

    async def _relay(
        self,
        ctx: Ctx,
        draft: AgentDraft,
        turns: list[tuple[str, str]],
        question: str,
        run_id: str,
        token: str,
    ) -> Any:
        key = (token, run_id)
        last_check = time.monotonic()

        async def on_text(text: str) -> None:
            async with self:
                if await self._theirs(ctx, run_id):
                    self.text = text

        async def on_parts(parts: list[dict[str, Any]]) -> None:
            async with self:
                if await self._theirs(ctx, run_id):
                    self.parts = tool_cards(parts)

        async def should_stop() -> bool:
            """The Stop button in this process is seen at once; the state (another worker's Stop, a page left)
            is read once a second."""
            nonlocal last_check
            if key in _STOPPED:
                return True
            if time.monotonic() - last_check < 1.0:
                return False
            last_check = time.monotonic()
            async with self:
                return self._stop == run_id or not await self._theirs(ctx, run_id)

        reply: testing.TestReply | None = None
        refused = broken = ""
        try:
            reply = await testing.run_draft(
                ctx, draft, turns, question, on_text=on_text, on_parts=on_parts, should_stop=should_stop
            )
        except ServiceError as exc:
            refused = str(exc)
        except Exception:
            log.exception("the agent test failed")
            broken = BROKEN
        finally:
            _STOPPED.discard(key)
        async with self:
            if not await self._theirs(ctx, run_id):
                return
            self.running = False
            if refused:  # nothing ran: the question goes back to the box, the reason beside it
                self.messages = [m for m in self.messages if m["id"] != run_id + "-q"]
                self.error = refused
            else:
                text = reply.text if reply is not None else self.text
                parts = tool_cards(reply.parts) if reply is not None else list(self.parts)
                error = broken or (reply.error if reply is not None else "")
                self.messages = [
                    *self.messages,
                    {"id": run_id, "role": "assistant", "text": text, "error": error, "parts": parts},
                ]
            self.text, self.parts, self._run_id, self._stop = "", [], "", ""
        if refused:
            yield rx.set_value(TEST_INPUT_ID, question)
