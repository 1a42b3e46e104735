"""Memory, below the browser: a member's own memories (add, edit, pin, forget, limits), nobody else's (another
member, another workspace, RLS), which ones a reply uses within the budget, and the request the model gets."""

from __future__ import annotations

import uuid

import pytest

from services.context import Ctx
from services.errors import NotFound, ValidationError
from services.knowledge.embed import set_embeddings
from services.memory import select as memory_select
from services.memory import store
from services.turns import UserMessage, run_turn
from tests.services.test_chat_support import new_ctx, sql
from tests.services.test_knowledge_turns import member, system_text
from tests.services.test_turns import Sink


async def test_a_member_keeps_edits_pins_and_forgets_memories(tenant, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    ctx = await new_ctx(tenant.id, "mia@example.com")
    first = await store.add_memory(ctx, "  I coach   first-time founders ", category="business")
    assert (first.text, first.category, first.source, first.tokens > 0) == (
        "I coach first-time founders.", "business", "manual", True,
    )  # fmt: skip
    second = await store.add_memory(ctx, "Answers should be short.", category="preference")
    await store.set_pinned(ctx, first.id, True)
    assert [m.text for m in await store.list_memories(ctx)] == [first.text, second.text]  # pinned first
    assert [m.id for m in await store.list_memories(ctx, query="SHORT")] == [second.id]
    assert [m.id for m in await store.list_memories(ctx, category="business")] == [first.id]

    edited = await store.edit_memory(ctx, second.id, "Answers should be short and use bullet points")
    assert (
        edited.text == "Answers should be short and use bullet points."
        and edited.updated_at >= second.updated_at
    )
    for bad, why in (("   ", "Write the memory"), ("x" * 501, "at most 500")):
        with pytest.raises(ValidationError, match=why):
            await store.add_memory(ctx, bad)
    with pytest.raises(ValidationError, match="Choose a category"):
        await store.add_memory(ctx, "I like tea.", category="secrets")

    monkeypatch.setenv("MEMORY_MAX_COUNT", "2")
    from services.config import get_settings

    get_settings.cache_clear()
    with pytest.raises(ValidationError, match="the most there may be"):
        await store.add_memory(ctx, "A third one.")
    exported = store.export(await store.list_memories(ctx))
    assert [e["text"] for e in exported] == [first.text, edited.text] and "embedding" not in exported[0]

    await store.forget(ctx, first.id)
    with pytest.raises(NotFound):
        await store.forget(ctx, first.id)
    assert await store.forget_everything(ctx) == 1
    assert await store.list_memories(ctx) == []


async def test_nobody_else_reads_or_changes_them(tenant, other_tenant) -> None:  # type: ignore[no-untyped-def]
    mia = await new_ctx(tenant.id, "mia@example.com")
    admin = await new_ctx(tenant.id, "ada@example.com", role="admin")
    eve = await new_ctx(other_tenant.id, "eve@example.com", role="owner")
    kept = await store.add_memory(mia, "My launch is in March.", category="goal")
    for other in (admin, eve):  # not even the workspace's admin
        assert await store.list_memories(other) == []
        assert await memory_select.choose(other, None) == []
        with pytest.raises(NotFound):
            await store.edit_memory(other, kept.id, "Hijacked.")
        with pytest.raises(NotFound):
            await store.set_pinned(other, kept.id, True)
        with pytest.raises(NotFound):
            await store.forget(other, kept.id)
        assert await store.forget_everything(other) == 0
    assert [m.text for m in await store.list_memories(mia)] == ["My launch is in March."]
    # Row-level security alone: another workspace's session sees no row of it.
    assert await sql(other_tenant.id, "SELECT count(*) FROM memories WHERE id = :m", m=kept.id) == [(0,)]


def test_pinned_first_then_the_most_relevant_that_fit_the_budget() -> None:
    rows = []
    for i in range(200):  # score i/200; memories 7, 50 and 120 pinned; each 20 tokens, one of 700
        rows.append((uuid.UUID(int=i), f"m{i}", "other", i in (7, 50, 120), 700 if i == 199 else 20, i / 200))
    chosen = memory_select.pack(memory_select.rank(rows), 600)
    assert [c.text for c in chosen[:3]] == ["m120", "m50", "m7"]  # pinned, by relevance among themselves
    # Then the most similar that fit (m199 is too long and skipped): 27 more of 20 tokens = 600.
    assert [c.text for c in chosen[3:]] == [f"m{i}" for i in range(198, 198 - 27, -1)]
    assert sum(c.tokens for c in chosen) <= 600


async def test_without_embeddings_the_recent_ones_come_first(tenant) -> None:  # type: ignore[no-untyped-def]
    ctx = await new_ctx(tenant.id, "rui@example.com")
    old = await store.add_memory(ctx, "I used to sell candles.")
    new = await store.add_memory(ctx, "I now sell soap.")
    used = await store.add_memory(ctx, "I live in Braga.")
    await sql(
        tenant.id,
        "UPDATE memories SET updated_at = now() - interval '90 days' WHERE id IN (:a, :b)",
        a=old.id,
        b=used.id,
    )
    await sql(
        tenant.id, "UPDATE memories SET last_used_at = now() - interval '1 day' WHERE id = :b", b=used.id
    )
    assert [c.id for c in await memory_select.choose(ctx, None)] == [new.id, used.id, old.id]
    assert await memory_select.choose(ctx, None, budget=0) == []


async def test_the_reply_gets_the_relevant_memories_after_any_system_prompt(  # type: ignore[no-untyped-def]
    tenant, embeddings, no_server_providers
) -> None:
    ctx: Ctx = await member(tenant, embeddings, ["m1"])
    await set_embeddings(ctx, "mine", "fake-embed", 0)
    # A member without memories costs no embedding call.
    embedded = len(embeddings.embedding_requests())
    cid0, mid0 = uuid.uuid4(), uuid.uuid4()
    first = UserMessage(mid0, None, "Hello there", new_conversation=True)
    assert not (await run_turn(ctx, cid0, mid0, "mine/m1", on_text=Sink().on_text, user=first)).failed
    assert len(embeddings.embedding_requests()) == embedded
    assert "<memory>" not in system_text(embeddings.chat_requests()[-1].body)
    pinned = await store.add_memory(ctx, "My name is Rosa.", category="profile", pinned=True)
    # The fake's vectors are bags of words: this one shares most words with the question.
    bakery = await store.add_memory(
        ctx, "My bakery in Porto should post on Instagram daily.", category="business"
    )
    for i in range(30):
        await store.add_memory(ctx, f"Unrelated note number {i} about gardening tomatoes.")
    embeddings.configure(reply="Post your morning bakes.")
    cid, mid = uuid.uuid4(), uuid.uuid4()
    user = UserMessage(mid, None, "What should my bakery post on Instagram?", new_conversation=True)
    result = await run_turn(ctx, cid, mid, "mine/m1", on_text=Sink().on_text, user=user)
    assert not result.failed, result.error
    body = embeddings.chat_requests()[-1].body
    assert body["messages"][0]["role"] == "system" and body["messages"][-1]["role"] == "user"
    block = system_text(body)
    assert block.startswith("<memory>") and block.rstrip().endswith("</memory>")
    lines = [line for line in block.splitlines() if line.startswith("- ")]
    assert lines[:2] == [f"- {pinned.text}", f"- {bakery.text}"], lines[:3]  # pinned, then the most relevant
    assert sum(m.tokens for m in result.memories) <= 600
    used = {m.id: m for m in await store.list_memories(ctx)}
    assert used[bakery.id].times_used == 1 and used[bakery.id].last_used_at is not None
    # The reply records which memories it was given (ids only), for "Used N memories"; an import drops it.
    from services import chat
    from services.chat.import_parse import unlink_files

    reply = (await chat.get_tree(ctx, cid)).path()[1].message
    [part] = [p for p in reply.content_parts if p["type"] == "memories"]
    assert part["ids"][:2] == [str(pinned.id), str(bakery.id)] and len(part["ids"]) == len(result.memories)
    assert unlink_files(list(reply.content_parts)) == [
        p for p in reply.content_parts if p["type"] != "memories"
    ]


def test_only_a_message_that_starts_with_the_command_is_one() -> None:
    from services.memory.explicit import parse

    assert parse("Remember that I prefer short answers.") == parse("please remember: I prefer short answers")
    assert parse("Remember that I prefer short answers.").what == "I prefer short answers"  # type: ignore[union-attr]
    assert parse("Forget that I live in Lisbon").verb == "forget"  # type: ignore[union-attr]
    assert parse("remember my launch is in May").what == "my launch is in May"  # type: ignore[union-attr]
    for not_one in (
        "Don't forget to add a call to action.",
        "I remember when we launched.",
        "Remember the Alamo?",
        "Forget it.",
        "remember that ",
    ):
        assert parse(not_one) is None, not_one


async def test_remember_and_forget_in_a_message_take_effect_before_the_reply(  # type: ignore[no-untyped-def]
    tenant, embeddings, no_server_providers
) -> None:
    ctx: Ctx = await member(tenant, embeddings, ["m1"])
    embeddings.configure(reply="Noted.")
    cid, mid = uuid.uuid4(), uuid.uuid4()
    said = "Remember that my podcast is called Founder Fridays."
    result = await run_turn(
        ctx,
        cid,
        mid,
        "mine/m1",
        on_text=Sink().on_text,
        user=UserMessage(mid, None, said, new_conversation=True),
    )
    assert not result.failed, result.error
    [kept] = await store.list_memories(ctx)
    assert (kept.text, kept.source, kept.conversation_id, kept.message_id) == (
        "My podcast is called Founder Fridays.", "explicit", cid, mid,
    )  # fmt: skip
    assert result.notes == ["Saved to memory: My podcast is called Founder Fridays."]
    sent = system_text(embeddings.chat_requests()[-1].body)
    assert (
        "It is saved in their memory: confirm it" in sent
        and "- My podcast is called Founder Fridays." in sent
    )

    mid2 = uuid.uuid4()
    forget = UserMessage(mid2, mid, "Forget that my podcast is Founder Fridays", new_conversation=False)
    result = await run_turn(ctx, cid, mid, "mine/m1", on_text=Sink().on_text, user=forget)
    assert not result.failed, result.error
    assert await store.list_memories(ctx) == []
    assert result.notes == ["Forgotten: My podcast is called Founder Fridays."]
    sent = system_text(embeddings.chat_requests()[-1].body)
    assert "This memory is deleted" in sent and "- My podcast" not in sent

    mid3 = uuid.uuid4()
    nothing = UserMessage(mid3, mid2, "Forget that I have a cat", new_conversation=False)
    result = await run_turn(ctx, cid, mid2, "mine/m1", on_text=Sink().on_text, user=nothing)
    assert result.notes == ["Nothing in your memory matched “I have a cat”."]


async def test_use_memory_off_means_nothing_is_used_or_saved(tenant, embeddings, no_server_providers) -> None:  # type: ignore[no-untyped-def]
    ctx: Ctx = await member(tenant, embeddings, ["m1"])
    await store.add_memory(ctx, "I sell handmade soap.")
    assert (await store.memory_state(ctx)).enabled
    await store.set_memory_enabled(ctx, False)
    assert (await store.memory_state(ctx)).enabled is False
    embeddings.configure(reply="Sure.")
    cid, mid = uuid.uuid4(), uuid.uuid4()
    said = UserMessage(mid, None, "Remember that I ship to Spain.", new_conversation=True)
    result = await run_turn(ctx, cid, mid, "mine/m1", on_text=Sink().on_text, user=said)
    assert not result.failed and result.memories == []
    sent = system_text(embeddings.chat_requests()[-1].body)
    assert "soap" not in sent and "memory is turned off" in sent
    assert result.notes and "Memory is off" in result.notes[0]
    assert [m.text for m in await store.list_memories(ctx)] == [
        "I sell handmade soap."
    ]  # kept, nothing added
    # Another member's switch is their own.
    other = await new_ctx(tenant.id, "ola@example.com")
    assert (await store.memory_state(other)).enabled


async def test_memories_and_file_search_share_one_question_embedding(  # type: ignore[no-untyped-def]
    tenant, embeddings, no_server_providers, tmp_path
) -> None:
    from services.files import collections
    from tests.fakes.documents import make_pdf
    from tests.services.test_knowledge_turns import stored_file

    ctx: Ctx = await member(tenant, embeddings, ["m1"])
    await set_embeddings(ctx, "mine", "fake-embed", 0)
    await store.add_memory(ctx, "Refunds worry the user's clients.")
    pages = [f"Filler page {i} about nothing in particular, lorem ipsum dolor. " * 40 for i in range(30)]
    pages[17] = "The refund policy: members may cancel within fourteen days for a full refund."
    big = await stored_file(ctx, tmp_path, "handbook.pdf", make_pdf(pages))
    shelf = await collections.create_collection(ctx, "Policies")
    await collections.set_file_collections(ctx, big.id, [shelf.id])
    embeddings.configure(reply="Fourteen days [1].")
    before = len(embeddings.embedding_requests())
    cid, mid = uuid.uuid4(), uuid.uuid4()
    user = UserMessage(
        mid, None, "What is the refund policy?", new_conversation=True, collections=(shelf.id,)
    )
    result = await run_turn(ctx, cid, mid, "mine/m1", on_text=Sink().on_text, user=user)
    assert not result.failed, result.error
    asked = [r.body["input"] for r in embeddings.embedding_requests()[before:]]
    assert asked in ([["What is the refund policy?"]], ["What is the refund policy?"]), (
        asked
    )  # once, for both
    sent = system_text(embeddings.chat_requests()[-1].body)
    assert "- Refunds worry the user's clients." in sent and "fourteen days" in sent


async def test_deleting_the_account_deletes_its_memories_files_and_chats(  # type: ignore[no-untyped-def]
    tenant, embeddings, no_server_providers, tmp_path
) -> None:
    from services.auth.deletion import delete_account
    from services.files.storage import get_storage
    from tests.services.test_knowledge_turns import stored_file

    owner: Ctx = await member(tenant, embeddings, ["m1"])
    await set_embeddings(owner, "mine", "fake-embed", 0)
    with pytest.raises(ValidationError, match="only owner"):
        await delete_account(
            owner, (await sql(tenant.id, "SELECT email FROM users WHERE id = :u", u=owner.user_id))[0][0]
        )
    mia = await new_ctx(tenant.id, "mia@example.com")
    kept = await store.add_memory(mia, "I coach first-time founders.")
    other = await store.add_memory(owner, "The owner's own memory stays.")
    upload = await stored_file(mia, tmp_path, "notes.txt", b"Mia's notes about her clients.")
    key = (await sql(tenant.id, "SELECT storage_key FROM files WHERE id = :f", f=upload.id))[0][0]
    assert await get_storage().size(key)
    cid, mid = uuid.uuid4(), uuid.uuid4()
    await run_turn(
        mia,
        cid,
        mid,
        "mine/m1",
        on_text=Sink().on_text,
        user=UserMessage(mid, None, "I sell courses.", new_conversation=True),
    )
    with pytest.raises(ValidationError, match="exactly as shown"):
        await delete_account(mia, "someone@example.com")
    assert [m.id for m in await store.list_memories(mia)] == [kept.id]

    assert await delete_account(mia, "  MIA@example.com ") == 1
    for table, column in (
        ("memories", "user_id"),
        ("conversations", "user_id"),
        ("files", "user_id"),
        ("memory_extractions", "user_id"),
    ):
        assert await sql(tenant.id, f"SELECT count(*) FROM {table} WHERE {column} = :u", u=mia.user_id) == [
            (0,)
        ], table
    assert await sql(tenant.id, "SELECT count(*) FROM memories WHERE id = :m", m=kept.id) == [
        (0,)
    ]  # embedding too
    assert [m.id for m in await store.list_memories(owner)] == [other.id]
    assert await get_storage().size(key) is None  # the blob too
    assert await sql(tenant.id, "SELECT count(*) FROM jobs WHERE user_id = :u", u=mia.user_id) == [(0,)]
    [(detail,)] = await sql(tenant.id, "SELECT detail FROM audit_log WHERE action = 'user.deleted'")
    assert detail["user_id"] == str(mia.user_id) and "email" not in detail
