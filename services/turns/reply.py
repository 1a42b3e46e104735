"""The reply turn: from "the user asked" to "the reply is stored", whatever happens in between.

`run_turn` stores the user's message (and, for a new chat, the conversation) while the provider is asked,
builds the model's history on the server from the branch's newest stored messages (`tree.history_for_model`), streams the
reply into a sink, honours a stop check, and stores the outcome once. It never raises for a failure: the
provider failing, a key that cannot be decrypted, the database refusing the reply all come back as a
`TurnResult` whose `error` says what happened, with every piece of text received kept. Only cancellation
propagates, after the partial reply has been stored. No database session is held across the model call.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from services import ai_catalog
from services.billing import entitlements
from services.chat.common import MessageInfo
from services.chat.messages import add_user_message, save_assistant_message, start_conversation
from services.chat.path import chain_above
from services.chat.tree import history_for_model, reply_for_model
from services.context import Ctx
from services.errors import ServiceError
from services.files import collections, records
from services.knowledge import context as knowledge_context
from services.knowledge.embed import QuestionVector
from services.llm import ChatMessage, Provider, vision
from services.memory import explicit as memory_explicit
from services.memory import extract as memory_extract
from services.memory import select as memory_select
from services.memory import store as memory_store
from services.streaming import ReplyOutcome, run_reply
from services.turns.steps import Execute, run_steps

log = logging.getLogger("solo.turns")

INTERRUPTED = "The reply was interrupted."
STOPPED = "Stopped."


@dataclass(frozen=True, slots=True)
class UserMessage:
    """The user's message this turn stores while the model is asked (ids chosen by the caller)."""

    id: uuid.UUID
    parent_id: uuid.UUID | None
    text: str
    new_conversation: bool = False  # create the conversation first (its id is the turn's conversation id)
    # Files the user attached (checked here: foreign ids attach nothing); a new conversation's Knowledge picks.
    attachments: tuple[uuid.UUID, ...] = ()
    collections: tuple[uuid.UUID, ...] = ()
    agent: tuple[uuid.UUID, int] | None = None  # a new conversation's agent and its version


@dataclass(frozen=True, slots=True)
class AgentRun:
    """What an agent adds to a turn (services/agents/runner.py prepares it): its instructions first in the request,
    its tools offered to the model and run by `execute` up to `max_steps` tool steps, its parameters."""

    instructions: str = ""
    tools: tuple[dict[str, Any], ...] = ()  # neutral tool specs
    execute: Execute | None = None
    max_steps: int = 5
    temperature: float | None = None
    max_tokens: int | None = None


@dataclass(slots=True)
class TurnResult:
    outcome: ReplyOutcome
    reply: MessageInfo | None = None  # the stored reply; None when it could not be (or was not) stored
    user_error: str = ""  # the user's message could not be stored: nothing was (the reply is dropped)
    store_error: str = ""  # the reply could not be stored: `outcome.text` is all there is
    provider: Provider | None = field(default=None, repr=False)  # for follow-ups such as a title
    model: str = ""
    notes: list[str] = field(default_factory=list)  # about the user's files (one still processing...)
    cited: list[dict[str, Any]] = field(default_factory=list)  # citation parts stored with the reply
    memories: list[memory_select.Chosen] = field(default_factory=list)  # the member's memories the model got
    memory_note: str = ""  # what a "remember"/"forget that ..." in the message did, for the model
    learn: bool = False  # the message may teach something about the member: extraction counts this turn
    tool_parts: list[dict[str, Any]] = field(default_factory=list)  # the agent's tool calls, as stored

    @property
    def error(self) -> str:
        """What to show the user ("" when the reply is complete and stored)."""
        if self.user_error:
            return self.user_error
        if self.store_error:
            why = f"The reply could not be saved: {self.store_error}"
            return f"{self.outcome.error} ({why})" if self.outcome.error else why
        return self.outcome.error if self.outcome.status != "complete" else ""

    @property
    def failed(self) -> bool:
        """The turn did not end with a complete, stored reply (so the page offers Retry)."""
        return bool(self.user_error or self.store_error) or self.outcome.status != "complete"


def explain(exc: BaseException, stage: str) -> str:
    """A message for the user about an exception they cannot fix themselves (logged with its traceback)."""
    if isinstance(exc, ServiceError):
        return str(exc)
    log.error("reply turn failed while %s", stage, exc_info=exc)
    if stage == "preparing the model" and isinstance(exc, ValueError):
        return (
            f"This model cannot be used right now: its provider settings could not be read ({exc}). "
            "An admin can enter the provider key again under Admin → Models."
        )
    return f"Something went wrong while {stage} ({type(exc).__name__}). Try again; if it keeps failing, tell your admin."


async def _store_user(
    ctx: Ctx,
    conversation_id: uuid.UUID,
    user: UserMessage,
    model_key: str,
    notify: Callable[[str], Awaitable[None]] | None,
    parts: list[dict[str, Any]],
) -> str:
    """Store the user's message (and a new conversation); "" when stored, else why not. `notify` hears it
    first (its own failure is only logged)."""
    error = ""
    try:
        if user.new_conversation:
            provider_id, model = ai_catalog.split_key(model_key)
            await start_conversation(
                ctx,
                conversation_id,
                user.id,
                user.text,
                provider=provider_id,
                model=model,
                content_parts=parts,
                agent_id=user.agent[0] if user.agent else None,
                agent_version=user.agent[1] if user.agent else None,
            )
            if user.collections:
                try:
                    await collections.set_conversation_collections(
                        ctx, conversation_id, list(user.collections)
                    )
                except ServiceError as exc:  # a collection deleted meanwhile: the chat goes on without it
                    log.info("a new chat's collections were not kept: %s", exc)
        else:
            await add_user_message(
                ctx, conversation_id, user.parent_id, user.text, message_id=user.id, content_parts=parts
            )
    except Exception as exc:  # every failure is reported, none loses the text on screen
        error = f"Your message was not saved: {explain(exc, 'saving your message')}"
    if notify is not None:
        try:
            await notify(error)
        except Exception:  # the page may be gone; the turn goes on
            log.warning("on_user_stored failed", exc_info=True)
    return error


@dataclass(frozen=True, slots=True)
class _Branch:
    messages: tuple[ChatMessage, ...]  # the model's history of the whole branch
    length: int  # stored messages on the branch (the cache is used while they fit MAX_HISTORY_MESSAGES)


@dataclass(frozen=True, slots=True)
class _History:
    messages: list[ChatMessage]
    length: int | None  # stored messages on the branch, new question included; None when it was cut


# Branch histories this process stored a reply at the end of, by (tenant, user, conversation, reply id).
# Messages are never changed once stored, so the history of the branch that ends at a message never changes:
# a follow-up to the reply just streamed skips reading the branch before the provider is asked.
BranchKey = tuple[uuid.UUID, uuid.UUID, uuid.UUID, uuid.UUID]
_BRANCHES: OrderedDict[BranchKey, _Branch] = OrderedDict()
BRANCH_CACHE_SIZE = 256

# The model sees at most this many stored messages of the branch, the newest ones (then the new question):
# reading them costs the same in a conversation of 200 messages or of 20,000.
MAX_HISTORY_MESSAGES = 200


def _branch_key(ctx: Ctx, conversation_id: uuid.UUID, leaf_id: uuid.UUID) -> BranchKey:
    return (ctx.tenant_id, ctx.user_id, conversation_id, leaf_id)


def _remember(ctx: Ctx, conversation_id: uuid.UUID, reply: MessageInfo, history: _History) -> None:
    if history.length is None:
        return  # a cut history: the next one is cut elsewhere, read it from the database
    branch = tuple(history.messages) + tuple(reply_for_model(reply))
    _BRANCHES[_branch_key(ctx, conversation_id, reply.id)] = _Branch(branch, history.length + 1)
    while len(_BRANCHES) > BRANCH_CACHE_SIZE:
        _BRANCHES.popitem(last=False)


async def _read_branch(ctx: Ctx, conversation_id: uuid.UUID, leaf_id: uuid.UUID | None) -> _History:
    """The history of the branch that ends at `leaf_id` (nothing when None), from its newest
    MAX_HISTORY_MESSAGES stored messages only. A cut branch starts at a user message, so it never opens on a
    reply or on a tool result whose call was cut off."""
    chain, cut = await chain_above(ctx, conversation_id, leaf_id, limit=MAX_HISTORY_MESSAGES)
    if cut:
        first_question = next((i for i, m in enumerate(chain) if m.role == "user"), None)
        if first_question is not None:
            chain = chain[first_question:]
    messages = history_for_model(chain, chain[-1].id) if chain else []
    return _History(messages, None if cut else len(chain))


async def _history(
    ctx: Ctx, conversation_id: uuid.UUID, parent_id: uuid.UUID, user: UserMessage | None
) -> _History:
    """The branch the reply continues, read from the database (never from what a browser sent), or the
    branch this process stored last for this user when the message continues it."""
    if user is not None and user.new_conversation:
        return _History([ChatMessage("user", user.text)], 1)
    if user is None:
        return await _read_branch(ctx, conversation_id, parent_id)
    if user.parent_id is not None:
        known = _BRANCHES.get(_branch_key(ctx, conversation_id, user.parent_id))
        if known is not None and known.length <= MAX_HISTORY_MESSAGES:
            return _History([*known.messages, ChatMessage("user", user.text)], known.length + 1)
    before = await _read_branch(ctx, conversation_id, user.parent_id)
    length = None if before.length is None else before.length + 1
    return _History([*before.messages, ChatMessage("user", user.text)], length)


async def _knowledge(
    ctx: Ctx,
    conversation_id: uuid.UUID,
    question: str,
    attached: list[records.FileInfo],
    user: UserMessage | None,
    vector: QuestionVector | None = None,
) -> knowledge_context.TurnKnowledge:
    """The turn's sources; a failure to read the files is told to the user, and the reply goes on without."""
    new = user is not None and user.new_conversation
    try:
        return await knowledge_context.gather(
            ctx, conversation_id, question, attached,
            collection_ids=list(user.collections) if user is not None and new else None, vector=vector,
        )  # fmt: skip
    except Exception as exc:
        found = knowledge_context.TurnKnowledge()
        found.notes.append(
            f"Your files could not be searched for this reply: {explain(exc, 'searching your files')}"
        )
        return found


class _Stopped(Exception):
    """The user stopped the turn before the model was asked."""


STOP_POLL_SECONDS = 0.3


async def _unless_stopped(
    gathering: asyncio.Future[knowledge_context.TurnKnowledge], stop_check: Callable[[], Awaitable[bool]]
) -> knowledge_context.TurnKnowledge | None:
    """The turn's sources, or None when Stop came first (reading a file just attached can take a while)."""
    while True:
        done, _ = await asyncio.wait({gathering}, timeout=STOP_POLL_SECONDS)
        if done:
            return gathering.result()
        if await stop_check():
            gathering.cancel()
            return None


def _request(
    history: list[ChatMessage],
    knowledge: knowledge_context.TurnKnowledge,
    memories: Sequence[memory_select.Chosen] = (),
    memory_note: str = "",
    instructions: str = "",
) -> list[ChatMessage]:
    """What the model is sent (DESIGN.md's order; no workspace prompt exists yet): the agent's instructions, the
    memory block, the knowledge block, then the branch, the images with the newest question."""
    messages = list(history)
    if knowledge.images and messages and messages[-1].role == "user":
        last = messages[-1]
        messages[-1] = ChatMessage("user", last.content, images=tuple(knowledge.images))
    blocks = [
        b
        for b in (
            instructions.strip(),
            memory_select.block(list(memories), memory_note),
            knowledge.system_block(),
        )
        if b
    ]
    return [*(ChatMessage("system", b) for b in blocks), *messages]


def memory_part(memories: Sequence[memory_select.Chosen]) -> list[dict[str, Any]]:
    """The reply's record of the memories it was given (ids only: a forgotten memory leaves no text behind)."""
    return [{"type": "memories", "ids": [str(m.id) for m in memories]}] if memories else []


async def _memories(
    ctx: Ctx,
    vector: QuestionVector,
    result: TurnResult,
    conversation_id: uuid.UUID | None = None,
    user: UserMessage | None = None,
    stored_user: asyncio.Task[str] | None = None,
) -> None:
    """The member's memories for this reply (into `result`), after doing what a "remember/forget that ..." at
    the start of the message asks (once the message is stored: the memory links to it). A failure costs the reply
    its memories, nothing else."""
    try:
        command = memory_explicit.parse(user.text) if user is not None else None
        state = await memory_store.memory_state(ctx)
        if not state.on:
            if command is not None:
                mine = state.workspace  # else the workspace's admins turned it off
                result.notes = [
                    *result.notes,
                    memory_explicit.OFF_NOTICE if mine else memory_explicit.WORKSPACE_OFF_NOTICE,
                ]
                result.memory_note = (
                    memory_explicit.OFF_INSTRUCTION if mine else memory_explicit.WORKSPACE_OFF_INSTRUCTION
                )
            return  # the member (or the workspace) turned memory off: nothing is used or saved
        result.learn = user is not None and command is None and memory_extract.about_self(user.text)
        if command is not None and user is not None:
            if not (await asyncio.shield(stored_user) if stored_user is not None else ""):
                done = await memory_explicit.apply(
                    ctx, command, conversation_id=conversation_id, message_id=user.id
                )
                result.memory_note = done.instruction
                result.notes = [*result.notes, done.notice]
        if not (state.kept or command is not None):
            return  # no embedding call for a member who keeps none
        result.memories = await memory_select.choose(ctx, await vector.get())
    except Exception:
        log.exception("choosing memories failed; the reply goes on without them")


def _relay(
    on_tools: Callable[[list[dict[str, Any]]], Awaitable[None]] | None,
) -> Callable[[list[dict[str, Any]]], Awaitable[None]]:
    """The page hears of tool calls as they start and end (a copy: the turn keeps changing its own list); a
    page that is gone does not stop the turn."""

    async def relay(parts: list[dict[str, Any]]) -> None:
        if on_tools is None:
            return
        try:
            await on_tools([dict(p) for p in parts])
        except Exception:
            log.warning("on_tools failed", exc_info=True)

    return relay


async def _after_reply(ctx: Ctx, conversation_id: uuid.UUID, result: TurnResult) -> None:
    """Once the reply is stored: count the memories it used, and the turn towards the conversation's memory
    extraction (a job that runs later, never before or during a reply). Failures are only logged."""
    reply = result.reply
    if reply is None:
        return
    try:
        if result.memories:
            await memory_store.mark_used(ctx, [m.id for m in result.memories])
        if result.learn and result.outcome.status == "complete":
            await memory_extract.schedule(ctx, conversation_id, reply.id)
    except Exception:
        log.exception("recording a reply's memories failed")


async def run_turn(
    ctx: Ctx,
    conversation_id: uuid.UUID,
    parent_id: uuid.UUID,
    model_key: str,
    *,
    on_text: Callable[[str], Awaitable[None]],
    should_stop: Callable[[], Awaitable[bool]] | None = None,
    user: UserMessage | None = None,
    on_user_stored: Callable[[str], Awaitable[None]] | None = None,
    replaces: uuid.UUID | None = None,
    agent: AgentRun | None = None,
    on_tools: Callable[[list[dict[str, Any]]], Awaitable[None]] | None = None,
) -> TurnResult:
    """Answer `parent_id` (the user's message) with the model `model_key` and store the reply once.

    With `user` (whose id must be `parent_id`), the message is stored concurrently with the model request,
    and the reply only after it; `on_user_stored(error)` is called as soon as that is settled ("" = stored).
    `on_text(text_so_far)` receives the growing reply; `should_stop()` is polled at each flush.
    `replaces`: the failed reply this one retries (deleted with the new one's INSERT when it has no text).
    `agent`: the agent the conversation chats with; its tool calls are reported to `on_tools(parts)` as they
    start and end, and stored with the reply.
    """
    outcome = ReplyOutcome()
    result = TurnResult(outcome)
    history: _History | None = None
    started = time.perf_counter()
    stored_user: asyncio.Task[str] | None = None
    attached: list[records.FileInfo] = []
    if user is not None:
        attached = (
            await knowledge_context.attachments(ctx, list(user.attachments)) if user.attachments else []
        )
        parts = [knowledge_context.file_part(f) for f in attached]
        stored_user = asyncio.create_task(
            _store_user(ctx, conversation_id, user, model_key, on_user_stored, parts)
        )
    knowledge = knowledge_context.TurnKnowledge()

    async def stop_check() -> bool:
        if (
            stored_user is not None
            and stored_user.done()
            and not stored_user.cancelled()
            and stored_user.result()
        ):
            return True  # the user's message could not be stored: do not go on
        return bool(should_stop and await should_stop())

    try:
        stage = "preparing the model"
        try:
            reading = asyncio.ensure_future(_history(ctx, conversation_id, parent_id, user))
            entitled = asyncio.ensure_future(entitlements.may_send(ctx, model_key))  # the plan's gate
            asked = QuestionVector(ctx, user.text) if user is not None else None  # embedded once, if wanted
            gathering = (
                asyncio.ensure_future(_knowledge(ctx, conversation_id, user.text, attached, user, asked))
                if user is not None
                else None
            )
            recalling = (
                asyncio.ensure_future(_memories(ctx, asked, result, conversation_id, user, stored_user))
                if user is not None and asked is not None
                else None
            )
            try:  # the branch is read (and the files searched) while the provider is resolved
                provider, model, _label = await ai_catalog.provider_for(ctx, model_key)
                decision = await entitled
                if not decision.allowed:
                    raise ServiceError(decision.reason)
                if decision.warning:
                    result.notes = [*result.notes, decision.warning]
                history = await reading
                if gathering is None:
                    question = history.messages[-1].content if history.messages else ""
                    asked = QuestionVector(ctx, question)
                    gathering = asyncio.ensure_future(
                        _knowledge(ctx, conversation_id, question, [], None, asked)
                    )
                    recalling = asyncio.ensure_future(_memories(ctx, asked, result))
                gathered = await _unless_stopped(gathering, stop_check)
                if recalling is not None:
                    await recalling
            finally:
                for task in (reading, entitled, gathering, recalling):
                    if task is None:
                        continue
                    if not task.done():
                        task.cancel()
                    elif not task.cancelled():
                        task.exception()  # retrieved: a failure is reported once, by the awaits above
            result.provider, result.model = provider, model
            if gathered is None:  # Stop while the attached files were still being read: nothing was asked
                outcome.status, outcome.error = "unfinished", "Stopped."
                raise _Stopped
            knowledge = gathered
            result.notes = [*result.notes, *knowledge.notes]
            if knowledge.images and not vision.supports_images(model):
                raise ServiceError(
                    f"The model {model} cannot read images. Choose a model that can (such as gpt-4o or "
                    "claude-sonnet-4), or send the message without the image."
                )
            stage = "streaming the reply"
            request = _request(
                history.messages, knowledge, result.memories, result.memory_note,
                agent.instructions if agent is not None else "",
            )  # fmt: skip
            if agent is not None and agent.tools and agent.execute is not None:
                await run_steps(
                    provider, model, request, tools=list(agent.tools), execute=agent.execute,
                    max_steps=agent.max_steps, on_text=on_text, on_parts=_relay(on_tools),
                    should_stop=stop_check, outcome=outcome, parts=result.tool_parts,
                    temperature=agent.temperature, max_tokens=agent.max_tokens,
                )  # fmt: skip
            else:
                await run_reply(
                    provider, model, request, on_text=on_text, should_stop=stop_check, outcome=outcome,
                    temperature=agent.temperature if agent is not None else None,
                    max_tokens=agent.max_tokens if agent is not None else None,
                )  # fmt: skip
        except asyncio.CancelledError:
            raise
        except _Stopped:
            pass
        except Exception as exc:  # the turn reports every failure instead of raising
            outcome.status, outcome.error = "error", explain(exc, stage)
        outcome.duration_ms = outcome.duration_ms or round((time.perf_counter() - started) * 1000)
        result.cited = knowledge_context.citations(outcome.text, knowledge.sources)
        await _settle(ctx, conversation_id, parent_id, model_key, result, stored_user, replaces)
        if result.reply is not None and history is not None:
            _remember(ctx, conversation_id, result.reply, history)
        if result.reply is not None:
            await _after_reply(ctx, conversation_id, result)
    except asyncio.CancelledError:
        # Browser gone or server stopping: keep all the text received, marked unfinished, then go on.
        if outcome.status == "complete":
            outcome.status = "unfinished"
        outcome.error = outcome.error or INTERRUPTED
        result.cited = knowledge_context.citations(outcome.text, knowledge.sources)
        await asyncio.shield(
            _settle(ctx, conversation_id, parent_id, model_key, result, stored_user, replaces)
        )
        raise
    return result


async def _settle(
    ctx: Ctx,
    conversation_id: uuid.UUID,
    parent_id: uuid.UUID,
    model_key: str,
    result: TurnResult,
    stored_user: asyncio.Task[str] | None,
    replaces: uuid.UUID | None = None,
) -> None:
    """Wait for the user's message, then store the reply once (unless the message could not be stored)."""
    if stored_user is not None:
        result.user_error = await asyncio.shield(stored_user)
        if result.user_error:
            return
    outcome = result.outcome
    provider_id, _, model = model_key.partition("/")
    try:
        result.reply = await save_assistant_message(
            ctx,
            conversation_id,
            parent_id,
            text=outcome.text,
            status=outcome.status,
            error_text=outcome.error,
            provider=provider_id,
            model=model,
            prompt_tokens=outcome.prompt_tokens,
            completion_tokens=outcome.completion_tokens,
            ttft_ms=outcome.ttft_ms,
            duration_ms=outcome.duration_ms,
            replaces=replaces,
            content_parts=[*result.tool_parts, *result.cited, *memory_part(result.memories)],
        )
    except Exception as exc:  # the text stays with the caller, with the reason
        result.store_error = explain(exc, "saving the reply")
