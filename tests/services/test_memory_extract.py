"""Memory extraction, against the fake provider answering the extraction request with scripted tool calls:
add, a near-duplicate that becomes an update, delete (never of the member's own memories), a provider error
(nothing changes, no retry storm), a huge message (the request stays under its bound), the debounce, and the
workspace's switch and memory model."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import text

from services.config import get_settings
from services.context import Ctx
from services.db import global_session
from services.errors import PermissionDenied
from services.jobs.queue import job_info, run_once
from services.knowledge.chunk import count_tokens
from services.knowledge.embed import set_embeddings
from services.memory import extract, extract_prompt, settings, store
from services.turns import UserMessage, run_turn
from tests.fakes.llm_server import FakeLLMServer, FakeToolCall
from tests.services.test_chat_support import new_ctx, sql
from tests.services.test_knowledge_turns import member, system_text
from tests.services.test_turns import Sink


def extraction_requests(server: FakeLLMServer) -> list[dict[str, Any]]:
    return [r.body for r in server.chat_requests() if r.body.get("tools")]


def script(ops: Callable[[str], list[dict[str, Any]]]) -> Callable[[dict[str, Any]], list[FakeToolCall]]:
    """Tool calls for the extraction request only (the reply's request offers no tools): `ops(user_content)`."""

    def answer(body: dict[str, Any]) -> list[FakeToolCall]:
        if not body.get("tools"):
            return []
        content = str(body["messages"][-1]["content"])
        return [FakeToolCall(extract.TOOL_NAME, {"operations": ops(content)})]

    return answer


def ref_of(content: str, words: str) -> str:
    """The M-number the request gave the memory containing `words`."""
    found = re.search(r"\[(M\d+)\][^\n]*" + re.escape(words), content)
    assert found, content
    return found.group(1)


async def work(tenant_id: uuid.UUID) -> int:
    """Run this tenant's due extraction jobs (others' are dropped first, as in test_knowledge.drain)."""
    async with global_session() as session:
        await session.execute(
            text("DELETE FROM jobs WHERE kind = :k AND tenant_id IS DISTINCT FROM :t"),
            {"k": extract.KIND, "t": tenant_id},
        )
    ran = 0
    while await run_once("test-memory", kinds=[extract.KIND]):
        ran += 1
    return ran


async def say(
    ctx: Ctx, cid: uuid.UUID, parent: uuid.UUID | None, words: str, *, new: bool = False
) -> uuid.UUID:
    """One turn; the reply's id."""
    mid = uuid.uuid4()
    result = await run_turn(
        ctx,
        cid,
        mid,
        "mine/m1",
        on_text=Sink().on_text,
        user=UserMessage(mid, parent, words, new_conversation=new),
    )
    assert not result.failed, result.error
    assert result.reply is not None
    return result.reply.id


@pytest.fixture
def every_turn(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MEMORY_EXTRACT_EVERY", "1")
    get_settings.cache_clear()


async def test_add_then_a_near_duplicate_updates_then_delete(  # type: ignore[no-untyped-def]
    tenant, embeddings, no_server_providers, every_turn
) -> None:
    ctx = await member(tenant, embeddings, ["m1"])
    await set_embeddings(ctx, "mine", "fake-embed", 0)  # near-duplicates by cosine similarity
    mine = await store.add_memory(ctx, "I prefer answers in bullet points.", category="preference")
    embeddings.configure(
        reply="Nice!",
        tool_calls=script(
            lambda _: [
                {"op": "add", "text": "The user runs a bakery in Porto.", "category": "business",
                 "key": "business", "from": "U1"},
                {"op": "add", "text": "I prefer answers in bullet points."},  # already kept: nothing
                {"op": "update", "id": "M9", "text": "Nothing to update."},  # never shown: nothing
            ]
        ),
    )  # fmt: skip
    cid = uuid.uuid4()
    said = "I run a bakery in Porto and want to sell online."
    reply = await say(ctx, cid, None, said, new=True)
    assert await work(tenant.id) == 1
    [request] = extraction_requests(embeddings)
    assert request["tools"][0]["function"]["name"] == extract.TOOL_NAME
    content = request["messages"][-1]["content"]
    assert f"[U1] user: {said}" in content and "[A1] assistant: Nice!" in content
    assert "(preference, read-only) I prefer answers in bullet points." in content
    kept = {m.text: m for m in await store.list_memories(ctx)}
    bakery = kept["The user runs a bakery in Porto."]
    first_user = (
        await sql(tenant.id, "SELECT id FROM messages WHERE conversation_id = :c AND role = 'user'", c=cid)
    )[0][0]
    assert (bakery.source, bakery.category, bakery.key, bakery.conversation_id, bakery.message_id) == (
        "extracted", "business", "business", cid, first_user,
    )  # fmt: skip
    assert set(kept) == {bakery.text, mine.text}
    [run] = await extract.history(ctx)
    assert run.status == "done" and run.model == "mine/m1" and run.messages == 2
    assert [o["op"] for o in run.operations] == ["add", "skip", "skip"]
    assert "text" not in str(run.operations)  # kinds and ids only

    # The next run reads only the new exchange; a near-duplicate add becomes an update of the kept memory.
    embeddings.configure(
        tool_calls=script(lambda _: [{"op": "add", "text": "The user runs a bakery in Porto, Portugal."}])
    )
    reply = await say(ctx, cid, reply, "Our bakery is in Porto, Portugal, by the river.")
    assert await work(tenant.id) == 1
    content = extraction_requests(embeddings)[-1]["messages"][-1]["content"]
    assert "run a bakery in Porto and want" not in content and "[U1] user: Our bakery" in content
    after = {m.id: m for m in await store.list_memories(ctx)}
    assert after[bakery.id].text == "The user runs a bakery in Porto, Portugal." and len(after) == 2

    # Delete: of what it extracted, yes; of the member's own memory, never.
    embeddings.configure(
        tool_calls=script(
            lambda c: [
                {"op": "delete", "id": ref_of(c, "bakery")},
                {"op": "delete", "id": ref_of(c, "bullet points")},
            ]
        )
    )
    await say(ctx, cid, reply, "I sold the bakery; I now coach bakers.")
    assert await work(tenant.id) == 1
    assert [m.text for m in await store.list_memories(ctx)] == [mine.text]
    ops = (await extract.history(ctx))[0].operations
    assert ops[0] == {"op": "delete", "memory_id": str(bakery.id)}
    assert ops[1]["op"] == "skip" and "own memory" in ops[1]["why"]


async def test_questions_and_commands_ask_nothing_and_turns_are_debounced_across_chats(  # type: ignore[no-untyped-def]
    tenant, embeddings, no_server_providers, monkeypatch
) -> None:
    monkeypatch.setenv("MEMORY_EXTRACT_EVERY", "3")
    get_settings.cache_clear()
    ctx = await member(tenant, embeddings, ["m1"])
    embeddings.configure(reply="Sure.", tool_calls=script(lambda _: [{"op": "none"}]))
    key = extract.job_key(ctx.user_id)
    cid = uuid.uuid4()
    reply = await say(ctx, cid, None, "What is a hybrid coaching offer?", new=True)
    reply = await say(ctx, cid, reply, "Remember that my clients are dentists.")  # done at once, not counted
    assert await sql(tenant.id, "SELECT count(*) FROM jobs WHERE dedupe_key = :k", k=key) == [(0,)]

    async def pending() -> tuple[int, bool, int]:
        [(turns, due, chats)] = await sql(
            tenant.id,
            "SELECT (payload->>'turns')::int, run_at <= now(), jsonb_array_length(payload->'replies') "
            "FROM jobs WHERE dedupe_key = :k AND status = 'queued'",
            k=key,
        )
        return turns, due, chats

    reply = await say(ctx, cid, reply, "I sell a group program for dentists.")
    assert await pending() == (1, False, 1)  # waits for a quiet period...
    assert await work(tenant.id) == 0
    reply = await say(ctx, cid, reply, "My price is 2,000 euros.")
    assert await pending() == (2, False, 1)
    other = uuid.uuid4()  # a new chat joins the same pending run
    await say(ctx, other, None, "We launch in May.", new=True)
    assert await pending() == (3, True, 2)  # ...or for the third turn
    assert await work(tenant.id) == 1
    assert len(extraction_requests(embeddings)) == 1
    content = extraction_requests(embeddings)[0]["messages"][-1]["content"]
    assert content.count("<conversation>") == 2
    assert (
        "group program" in content and "[U5] user: We launch in May." in content
    )  # after the 4 of the first chat
    [run] = await extract.history(ctx)
    assert run.operations == [] and set(run.conversation_ids) == {cid, other}
    read = await sql(
        tenant.id,
        "SELECT count(*) FROM conversations WHERE id IN (:a, :b) AND memory_read_at IS NOT NULL",
        a=cid,
        b=other,
    )
    assert read == [(2,)]


async def test_a_provider_error_changes_nothing_and_is_not_retried_in_a_storm(  # type: ignore[no-untyped-def]
    tenant, embeddings, no_server_providers, every_turn
) -> None:
    ctx = await member(tenant, embeddings, ["m1"])
    kept = await store.add_memory(ctx, "The user sells soap.")
    cid = uuid.uuid4()
    embeddings.configure(reply="Hi.")
    await say(ctx, cid, None, "I sell soap in Braga.", new=True)
    [(job_id,)] = await sql(
        tenant.id, "SELECT id FROM jobs WHERE dedupe_key = :k", k=extract.job_key(ctx.user_id)
    )

    # A 400 (the model refuses the request): one call, the job fails at once, recorded, nothing changed.
    embeddings.configure(error_status=400, error_message="tools are not supported by this model")
    asked = len(embeddings.chat_requests())
    assert await work(tenant.id) == 1
    assert len(embeddings.chat_requests()) == asked + 1
    job = await job_info(job_id)
    assert job is not None and (job.status, job.attempts) == ("failed", 1)
    [run] = await extract.history(ctx)
    assert run.status == "failed" and "HTTP 400" in run.error  # a workspace's provider: its body is not shown
    assert [m.id for m in await store.list_memories(ctx)] == [kept.id]

    # A 503: one request per run (the provider's own retries are off), retried with backoff, failed after three.
    embeddings.configure(error_status=None)
    cid2 = uuid.uuid4()
    await say(ctx, cid2, None, "I make candles too.", new=True)
    embeddings.configure(error_status=503)
    asked = len(embeddings.chat_requests())
    for attempt in range(1, extract.MAX_ATTEMPTS + 1):
        assert await work(tenant.id) == 1
        [(status, attempts, due)] = await sql(
            tenant.id,
            "SELECT status, attempts, run_at > now() + interval '1 second' FROM jobs WHERE dedupe_key = :k "
            "AND id <> :old",
            k=extract.job_key(ctx.user_id),
            old=job_id,
        )
        assert attempts == attempt and len(embeddings.chat_requests()) == asked + attempt
        if attempt < extract.MAX_ATTEMPTS:
            assert (status, due) == ("queued", True)  # backed off
            await sql(
                tenant.id,
                "UPDATE jobs SET run_at = now() WHERE dedupe_key = :k AND status = 'queued'",
                k=extract.job_key(ctx.user_id),
            )
        else:
            assert status == "failed"
    assert await work(tenant.id) == 0
    assert [m.id for m in await store.list_memories(ctx)] == [kept.id]
    assert [r.status for r in await extract.history(ctx)] == ["failed", "failed"]


async def test_a_huge_message_keeps_the_request_under_its_bound(  # type: ignore[no-untyped-def]
    tenant, embeddings, no_server_providers, every_turn
) -> None:
    ctx = await member(tenant, embeddings, ["m1"])
    for i in range(40):
        await store.add_memory(
            ctx, f"The user noted fact number {i} about their coaching business and clients."
        )
    blob = "iVBORw0KGgo" + "A1b2C3d4" * 1_000
    huge = (
        "I coach dentists. " + "Here is my whole sales page draft, word after word. " * 1_400
        + f" data:image/png;base64,{blob} and raw {blob} The end: I charge 2,000 euros."
    )  # fmt: skip
    embeddings.configure(reply="Long. " * 3000, tool_calls=script(lambda _: [{"op": "none"}]))
    await say(ctx, uuid.uuid4(), None, huge, new=True)
    assert await work(tenant.id) == 1
    [request] = extraction_requests(embeddings)
    sent = "\n".join(str(m["content"]) for m in request["messages"])
    assert count_tokens(sent) <= extract_prompt.request_bound() < 6000
    assert "A1b2C3d4A1b2" not in sent and "I coach dentists." in sent and "I charge 2,000 euros." in sent
    assert sent.count("[M") <= extract_prompt.CONTEXT_MEMORIES


async def test_the_workspace_switch_and_memory_model(  # type: ignore[no-untyped-def]
    tenant, embeddings, no_server_providers, every_turn
) -> None:
    owner = await member(tenant, embeddings, ["m1", "m2"])
    mia = await new_ctx(tenant.id, "mia@example.com")
    with pytest.raises(PermissionDenied):
        await settings.set_workspace_memory(mia, enabled=False)
    assert await settings.current(owner) == settings.WorkspaceMemory(True, "")
    await settings.set_workspace_memory(owner, enabled=True, model="mine/m2")
    embeddings.configure(
        reply="Ok.", tool_calls=script(lambda _: [{"op": "add", "text": "The user rides bikes."}])
    )
    await say(owner, uuid.uuid4(), None, "I ride my bike to work.", new=True)
    assert await work(tenant.id) == 1
    assert extraction_requests(embeddings)[-1]["model"] == "m2"
    assert [m.text for m in await store.list_memories(owner)] == ["The user rides bikes."]

    await settings.set_workspace_memory(owner, enabled=False, model="mine/m2")
    assert not (await store.memory_state(owner)).on and (await store.memory_state(owner)).enabled
    cid = uuid.uuid4()
    await say(owner, cid, None, "I ride my bike on weekends too.", new=True)
    assert "<memory>" not in system_text(embeddings.chat_requests()[-1].body)
    assert await work(tenant.id) == 0  # nothing scheduled
    # The audit log has the settings, and nothing of any memory.
    rows = await sql(
        tenant.id,
        "SELECT detail FROM audit_log WHERE action = :a ORDER BY created_at",
        a=settings.AUDIT_ACTION,
    )
    assert [r[0] for r in rows] == [
        {"enabled": True, "model": "mine/m2"},
        {"enabled": False, "model": "mine/m2"},
    ]
    with pytest.raises(Exception, match="m3"):
        await settings.set_workspace_memory(owner, enabled=True, model="mine/m3")


def test_cleaning_and_cutting() -> None:
    assert extract_prompt.clean("see data:image/png;base64,AAAA== ok") == "see [data removed] ok"
    assert extract_prompt.clean("x " + "Q" * 400 + " y") == "x [base64 removed] y"
    long = " ".join(f"word{i}" for i in range(5000))
    short = extract_prompt.cut(long, 100)
    assert (
        count_tokens(short) <= 100
        and short.startswith("word0 ")
        and short.endswith("word4999")
        and "[…]" in short
    )
    assert extract_prompt.cut("short text", 100) == "short text"
    assert extract.about_self("My clients are dentists") and extract.about_self("Je suis coach")
    assert extract.about_self("j'ai trois clients") and extract.about_self("How do I price my program?")
    for generic in (
        "What is a hybrid offer?",
        "How do I price a program?",
        "Give me three titles",
        "Tell us more",
    ):
        assert not extract.about_self(generic), generic
    ops = extract_prompt.operations(
        [], 'Here: {"operations": [{"op": "add", "text": "The user likes tea.", "category": "x"}]}'
    )
    assert ops == [extract_prompt.Operation("add", text="The user likes tea.", category="other")]
    assert extract_prompt.operations(["not json"], "") == []
