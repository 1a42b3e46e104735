"""The reply turn against the fake provider (real SSE over loopback) and the real database: every way a
reply can end is stored once, with all the text received, and reported; nothing raises but cancellation."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest

from services import ai_catalog, chat, turns
from services.context import Ctx
from services.turns import UserMessage, run_turn
from services.turns import reply as reply_module
from tests.fakes.llm_server import FakeLLMServer
from tests.services.test_chat_io import chatgpt_node
from tests.services.test_chat_support import new_ctx, sql

KEY = "mine/m1"


@pytest.fixture
def no_server_providers(monkeypatch, loopback_allowed):  # type: ignore[no-untyped-def]
    for name in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "XAI_API_KEY", "LLM_ENDPOINTS"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
async def llm() -> AsyncIterator[FakeLLMServer]:
    with FakeLLMServer() as server:
        yield server


@pytest.fixture
async def owner(tenant, llm: FakeLLMServer, no_server_providers) -> Ctx:  # type: ignore[no-untyped-def]
    """A workspace owner whose workspace has one provider (the fake server) with model m1."""
    ctx = await new_ctx(tenant.id, "owner@example.com", role="owner")
    await ai_catalog.save_workspace_provider(
        ctx, provider_id="mine", kind="openai_compatible", label="Mine",
        base_url=llm.openai_base_url, api_key="sk-test-key", models=["m1"],
    )  # fmt: skip
    return ctx


class Sink:
    """What the page would show: every text the turn pushed, and when the user's message was settled."""

    def __init__(self) -> None:
        self.texts: list[str] = []
        self.user_stored: list[str] = []

    async def on_text(self, text: str) -> None:
        self.texts.append(text)

    async def on_user_stored(self, error: str) -> None:
        self.user_stored.append(error)


def new_chat(text: str = "Hello there") -> tuple[uuid.UUID, UserMessage]:
    message_id = uuid.uuid4()
    return uuid.uuid4(), UserMessage(id=message_id, parent_id=None, text=text, new_conversation=True)


async def path_of(ctx: Ctx, cid: uuid.UUID) -> list[tuple[str, str, str, str]]:
    tree = await chat.get_tree(ctx, cid)
    return [(s.message.role, s.message.text, s.message.status, s.message.error_text) for s in tree.path()]


async def test_a_new_chat_is_created_with_its_message_while_the_model_answers(owner, llm) -> None:
    llm.configure(reply="Hi! How can I help?", first_token_delay=0.05)
    cid, user = new_chat()
    sink = Sink()
    result = await run_turn(owner, cid, user.id, KEY, on_text=sink.on_text, user=user,
                            on_user_stored=sink.on_user_stored)  # fmt: skip
    assert not result.failed and result.error == "" and result.reply is not None
    assert await path_of(owner, cid) == [
        ("user", "Hello there", "complete", ""),
        ("assistant", "Hi! How can I help?", "complete", ""),
    ]
    conv = await chat.get_conversation(owner, cid)
    assert (conv.provider, conv.model, conv.title) == ("mine", "m1", chat.DEFAULT_TITLE)
    assert sink.user_stored == [""] and sink.texts[-1] == "Hi! How can I help?"
    assert result.reply.ttft_ms is not None and result.reply.ttft_ms >= 40
    assert llm.chat_requests()[-1].body["messages"] == [{"role": "user", "content": "Hello there"}]
    usage = await sql(owner.tenant_id, "SELECT completion_tokens FROM usage_records WHERE message_id = :m",
                      m=result.reply.id)  # fmt: skip
    assert usage[0][0] > 0
    assert await turns.name_conversation(owner, cid, result.provider, result.model, "Hello there")
    assert (await chat.get_conversation(owner, cid)).title != chat.DEFAULT_TITLE


async def test_a_follow_up_sends_the_branch_from_the_database(owner, llm) -> None:
    llm.configure(reply="First.")
    cid, user = new_chat("One")
    await run_turn(owner, cid, user.id, KEY, on_text=Sink().on_text, user=user)
    first_reply = (await chat.get_tree(owner, cid)).path()[-1].message.id
    llm.configure(reply="Second.")
    follow = UserMessage(id=uuid.uuid4(), parent_id=first_reply, text="Two")
    result = await run_turn(owner, cid, follow.id, KEY, on_text=Sink().on_text, user=follow)
    assert not result.failed
    sent = llm.chat_requests()[-1].body["messages"]
    assert [(m["role"], m["content"]) for m in sent] == [
        ("user", "One"),
        ("assistant", "First."),
        ("user", "Two"),
    ]
    # That follow-up reused the branch this process had just stored (no tree read before the provider is
    # asked); it must send exactly what the tree gives.
    assert result.reply is not None
    third = UserMessage(id=uuid.uuid4(), parent_id=result.reply.id, text="Three")
    assert not (await run_turn(owner, cid, third.id, KEY, on_text=Sink().on_text, user=third)).failed
    from_cache = llm.chat_requests()[-1].body["messages"]
    reply_module._BRANCHES.clear()
    assert not (await run_turn(owner, cid, third.id, KEY, on_text=Sink().on_text)).failed  # regenerate
    from_tree = llm.chat_requests()[-1].body["messages"]
    assert from_cache == from_tree
    assert [m["content"] for m in from_tree] == ["One", "First.", "Two", "Second.", "Three"]
    # Regenerating the first reply sends the branch up to its question only.
    result = await run_turn(owner, cid, user.id, KEY, on_text=Sink().on_text)
    assert not result.failed and llm.chat_requests()[-1].body["messages"] == [
        {"role": "user", "content": "One"}
    ]


async def test_a_provider_failing_mid_stream_keeps_the_partial_text(owner, llm) -> None:
    llm.configure(reply="one two three four five six", drop_after_tokens=3)
    cid, user = new_chat()
    result = await run_turn(owner, cid, user.id, KEY, on_text=Sink().on_text, user=user)
    assert result.failed and result.outcome.status == "error" and result.error
    assert result.reply is not None and result.reply.text == "one two three"
    assert (await path_of(owner, cid))[-1][:3] == ("assistant", "one two three", "error")


async def test_a_key_that_cannot_be_decrypted_is_reported_and_stored(owner, llm) -> None:
    await sql(owner.tenant_id, "UPDATE tenant_providers SET api_key_encrypted = 'not-a-fernet-token'")
    cid, user = new_chat()
    result = await run_turn(owner, cid, user.id, KEY, on_text=Sink().on_text, user=user)
    assert result.failed and "Admin → Models" in result.error and "decrypted" in result.error
    assert llm.chat_requests() == []
    # The user's message and the failed reply are both stored: Retry can answer the message later.
    assert [(r, s) for r, _, s, _ in await path_of(owner, cid)] == [
        ("user", "complete"),
        ("assistant", "error"),
    ]
    assert (await path_of(owner, cid))[-1][3] == result.error


async def test_a_database_failure_while_storing_keeps_the_text(owner, llm) -> None:
    """The conversation is deleted (in another tab) while the reply streams: the reply cannot be stored,
    the turn says so and hands back all the text."""
    reply = " ".join(f"w{i}" for i in range(30))
    llm.configure(reply=reply, tokens_per_second=300)
    cid, user = new_chat()
    deleted = False

    async def on_text(text: str) -> None:
        nonlocal deleted
        if not deleted:
            deleted = True
            await chat.delete_conversation(owner, cid)

    sink = Sink()
    result = await run_turn(
        owner, cid, user.id, KEY, on_text=on_text, user=user, on_user_stored=sink.on_user_stored
    )
    assert deleted and sink.user_stored == [""]
    assert result.reply is None and result.failed
    assert result.outcome.text == reply and "could not be saved" in result.error
    assert await sql(owner.tenant_id, "SELECT count(*) FROM messages WHERE conversation_id = :c", c=cid) == [
        (0,)
    ]


async def test_an_unexpected_error_in_the_sink_is_stored_as_an_error(owner, llm) -> None:
    llm.configure(reply="alpha beta gamma delta", tokens_per_second=200)
    cid, user = new_chat()

    async def on_text(text: str) -> None:
        raise RuntimeError("the page went away")

    result = await run_turn(owner, cid, user.id, KEY, on_text=on_text, user=user)
    assert result.failed and "RuntimeError" in result.error and result.reply is not None
    assert result.reply.status == "error" and result.reply.text.startswith("alpha")


async def test_the_users_message_not_saved_stops_the_reply(owner, llm) -> None:
    llm.configure(reply=" ".join(["x"] * 200), tokens_per_second=200)
    user = UserMessage(id=uuid.uuid4(), parent_id=None, text="hi")  # a conversation that does not exist
    sink = Sink()
    result = await run_turn(owner, uuid.uuid4(), user.id, KEY, on_text=sink.on_text, user=user,
                            on_user_stored=sink.on_user_stored)  # fmt: skip
    assert result.user_error.startswith("Your message was not saved") and result.reply is None
    assert result.error == result.user_error and sink.user_stored == [result.user_error]
    assert len(result.outcome.text) < len(" x" * 200)  # stopped early


async def test_stop_stores_every_word_received(owner, llm) -> None:
    llm.configure(reply=" ".join(f"t{i}" for i in range(400)), tokens_per_second=200)
    cid, user = new_chat()
    stop_at = time.monotonic() + 0.4

    async def should_stop() -> bool:
        return time.monotonic() > stop_at

    sink = Sink()
    result = await run_turn(
        owner, cid, user.id, KEY, on_text=sink.on_text, should_stop=should_stop, user=user
    )
    assert result.outcome.status == "unfinished" and result.error == turns.STOPPED
    assert result.reply is not None and result.reply.text == result.outcome.text
    assert result.reply.text.startswith(sink.texts[-1]) and "t399" not in result.reply.text
    await llm.await_client_disconnects(1, 5)


async def test_cancellation_stores_all_the_text_then_propagates(owner, llm) -> None:
    llm.configure(reply=" ".join(f"t{i}" for i in range(400)), tokens_per_second=300)
    cid, user = new_chat()
    sink = Sink()
    task = asyncio.create_task(run_turn(owner, cid, user.id, KEY, on_text=sink.on_text, user=user))
    await asyncio.sleep(0.4)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    last = await path_of(owner, cid)
    for _ in range(50):  # the shielded store may finish just after the cancellation
        if len(last) == 2:
            break
        await asyncio.sleep(0.05)
        last = await path_of(owner, cid)
    role, text, status, error = last[-1]
    assert (role, status, error) == ("assistant", "unfinished", turns.INTERRUPTED)
    assert text.startswith(sink.texts[-1]) and len(text) >= len(sink.texts[-1]) > 0


# Imported conversations with tool messages ------------------------------------------------------------------


def chatgpt_with_tools() -> list[dict[str, Any]]:
    t0 = 1714585031.0
    browse = {"content_type": "code", "language": "unknown", "text": "search('weather Lisbon')"}
    result = {"content_type": "tether_browsing_display", "result": "Lisbon: 21 °C, sunny."}
    mapping = {
        "root": chatgpt_node("root", None, ["u1"], None),
        "u1": chatgpt_node("u1", "root", ["a1"], "user", "Weather in Lisbon?", t0 + 1),
        "a1": chatgpt_node("a1", "u1", ["t1"], "assistant", "", t0 + 2, content=browse, recipient="browser"),
        "t1": chatgpt_node("t1", "a1", ["a2"], "tool", "", t0 + 3, content=result, name="browser"),
        "a2": chatgpt_node("a2", "t1", [], "assistant", "It is sunny, 21 °C.", t0 + 4),
    }
    return [{"title": "Weather", "create_time": t0, "update_time": t0 + 4, "mapping": mapping,
             "current_node": "a2", "id": "b2222222-0000-41a0-8b04-4acee626eeb7"}]  # fmt: skip


async def test_an_imported_conversation_with_a_tool_message_can_be_continued(owner, llm) -> None:
    await chat.import_conversations(owner, json.dumps(chatgpt_with_tools()))
    page = await chat.list_conversations(owner, chat.ConversationFilters())
    conv = next(c for c in page.items if c.title == "Weather")
    leaf = (await chat.get_tree(owner, conv.id)).path()[-1].message
    assert leaf.text == "It is sunny, 21 °C."
    llm.configure(reply="Take sunglasses.")
    follow = UserMessage(id=uuid.uuid4(), parent_id=leaf.id, text="What should I wear?")
    result = await run_turn(owner, conv.id, follow.id, KEY, on_text=Sink().on_text, user=follow)
    assert not result.failed and result.reply is not None and result.reply.text == "Take sunglasses."
    sent = llm.chat_requests()[-1].body["messages"]
    assert sent == [
        {"role": "user", "content": "Weather in Lisbon?"},
        {"role": "assistant", "content": "search('weather Lisbon')"},
        {"role": "user", "content": "[Result from browser]\nLisbon: 21 °C, sunny."},
        {"role": "assistant", "content": "It is sunny, 21 °C."},
        {"role": "user", "content": "What should I wear?"},
    ]


def _chain(*specs: tuple[str, str, list[dict[str, Any]]]) -> list[Any]:
    """Messages of one branch (role, text, content parts), each the child of the one before."""
    from datetime import UTC, datetime, timedelta

    from services.chat.common import message_info

    out, parent, cid, t0 = [], None, uuid.uuid4(), datetime.now(UTC)
    for i, (role, text, parts) in enumerate(specs):
        mid = uuid.uuid4()
        out.append(message_info({
            "id": mid, "conversation_id": cid, "parent_id": parent, "role": role, "text": text,
            "content_parts": parts, "status": "complete", "error_text": "", "provider": "", "model": "",
            "prompt_tokens": None, "completion_tokens": None, "ttft_ms": None, "duration_ms": None,
            "created_at": t0 + timedelta(seconds=i),
        }))  # fmt: skip
        parent = mid
    return out


def test_history_keeps_answered_tool_calls_and_turns_the_rest_into_context() -> None:
    call = {"type": "tool_call", "id": "call_1", "name": "weather", "arguments": {"city": "Porto"}}
    unanswered = {"type": "tool_call", "id": "call_2", "name": "clock", "arguments": "{}"}
    messages = _chain(
        ("system", "Be brief.", []),
        ("user", "Weather in Porto?", []),
        ("assistant", "", [call, unanswered]),
        ("tool", "18 °C", [{"type": "tool_result", "name": "weather", "tool_call_id": "call_1"}]),
        ("assistant", "18 °C in Porto.", []),
        ("tool", "orphan output", [{"type": "tool_result", "name": "python", "tool_call_id": "call_9"}]),
        ("user", "Thanks", []),
    )
    history = chat.history_for_model(messages, messages[-1].id)
    assert [(m.role, m.content, m.tool_call_id) for m in history] == [
        ("system", "Be brief.", None),
        ("user", "Weather in Porto?", None),
        ("assistant", "", None),
        ("tool", "18 °C", "call_1"),
        ("assistant", "18 °C in Porto.", None),
        ("user", "[Result from python]\norphan output", None),
        ("user", "Thanks", None),
    ]
    assert [c.id for c in history[2].tool_calls] == ["call_1"]  # the call nobody answered is not sent
    assert history[2].tool_calls[0].arguments == '{"city": "Porto"}'
    # The history ends at the message asked for, even when that message already has replies below it.
    assert chat.history_for_model(messages, messages[1].id)[-1].content == "Weather in Porto?"


async def test_a_long_branch_sends_its_newest_messages_starting_at_a_question(owner, llm) -> None:
    """The model gets at most MAX_HISTORY_MESSAGES stored messages of the branch (read upward from the
    parent, never the whole tree); a cut branch starts at a user message, not at a tool result whose call
    was cut off, nor at a reply."""
    from datetime import UTC, datetime, timedelta

    from tests.services.test_chat_path import insert_messages

    conversation = await chat.create_conversation(owner)
    cap = reply_module.MAX_HISTORY_MESSAGES
    ids = [uuid.uuid4() for _ in range(cap + 52)]  # the last `cap` start at index 52
    t0 = datetime.now(UTC) - timedelta(days=1)
    rows: list[dict[str, Any]] = [
        {"id": mid, "parent_id": ids[i - 1] if i else None, "role": "user" if i % 2 == 0 else "assistant",
         "text": f"text {i}", "created_at": t0 + timedelta(seconds=i)}
        for i, mid in enumerate(ids)
    ]  # fmt: skip
    rows[51]["content_parts"] = [{"type": "tool_call", "id": "call_x", "name": "search", "arguments": "{}"}]
    rows[52].update(
        role="tool", content_parts=[{"type": "tool_result", "name": "search", "tool_call_id": "call_x"}]
    )
    await insert_messages(owner, conversation.id, rows, ids[-1])
    expected = [{"role": r["role"], "content": r["text"]} for r in rows[54:]]  # from the first question

    llm.configure(reply="Noted.")
    follow = UserMessage(id=uuid.uuid4(), parent_id=ids[-1], text="Next?")
    result = await run_turn(owner, conversation.id, follow.id, KEY, on_text=Sink().on_text, user=follow)
    assert not result.failed
    assert llm.chat_requests()[-1].body["messages"] == [*expected, {"role": "user", "content": "Next?"}]
    # Regenerating that reply (the history is read again, up to the question) sends the same.
    assert not (await run_turn(owner, conversation.id, follow.id, KEY, on_text=Sink().on_text)).failed
    assert llm.chat_requests()[-1].body["messages"] == [*expected, {"role": "user", "content": "Next?"}]
    # The next follow-up is cut again (the cache of the branch just stored is not used for a cut branch).
    assert result.reply is not None
    again = UserMessage(id=uuid.uuid4(), parent_id=result.reply.id, text="And then?")
    assert not (
        await run_turn(owner, conversation.id, again.id, KEY, on_text=Sink().on_text, user=again)
    ).failed
    sent = llm.chat_requests()[-1].body["messages"]
    assert len(sent) == cap + 1 and sent[0] == expected[0]  # 54 ... 251, "Next?", "Noted.", "And then?"
    assert sent[-3:] == [
        {"role": "user", "content": "Next?"},
        {"role": "assistant", "content": "Noted."},
        {"role": "user", "content": "And then?"},
    ]
