"""Chat search: Postgres full text over titles and messages, ranking, snippets, filters, isolation."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import text

from models.chat import MESSAGE_SEARCH
from services import chat
from services.chat import ConversationFilters
from services.chat.search import search_results
from services.context import Ctx
from services.db import global_session, tenant_session
from services.errors import ValidationError
from tests.services.test_chat_support import new_ctx, sql
from tests.services.test_tenancy import conninfo

ROOT = Path(__file__).resolve().parents[2]
SIGNATURE = "chat_search_matches(tsquery, uuid, integer, boolean, boolean, uuid, uuid)"

FILLER = (
    "The weather was mild and the train left on time while the passengers read their newspapers and "
    "talked about the harvest, the prices at the market, the football results and the coming holidays. "
)


@pytest.fixture
async def alice(tenant) -> Ctx:  # type: ignore[no-untyped-def]
    return await new_ctx(tenant.id, "alice@example.com")


async def conversation(
    ctx: Ctx, title: str, *texts: str
) -> tuple[chat.ConversationInfo, list[chat.MessageInfo]]:
    c = await chat.create_conversation(ctx, title=title)
    parent = None
    messages = []
    for i, body in enumerate(texts):
        if i % 2 == 0:
            m = await chat.add_user_message(ctx, c.id, parent, body)
        else:
            m = await chat.save_assistant_message(ctx, c.id, parent, body)
        messages.append(m)
        parent = m.id
    return c, messages


async def test_ranking_snippets_and_the_matching_message(alice) -> None:
    titled, _ = await conversation(
        alice, "Quokka facts", "Tell me about marsupials", "They carry young in a pouch."
    )
    dense, dense_msgs = await conversation(
        alice,
        "Island trip",
        "Where can I see one?",
        "On Rottnest Island the quokka is everywhere: quokka selfies, quokka signs.",
    )
    sparse, sparse_msgs = await conversation(
        alice,
        "Long read",
        "Summarise this",
        FILLER * 3 + "Somewhere in it a quokka appears once. " + FILLER * 3,
    )
    await conversation(alice, "Unrelated", "Kangaroos and wallabies", "Both hop.")

    hits = await chat.search(alice, "Quokka")
    assert [h.conversation_id for h in hits] == [titled.id, dense.id, sparse.id]
    assert hits[0].rank > hits[1].rank > hits[2].rank > 0

    # A title-only match has no message; its snippet is the highlighted title.
    assert hits[0].message_id is None and hits[0].snippet == "«Quokka» facts"
    # A message match points at the message, so the UI can open the conversation there.
    assert hits[1].message_id == dense_msgs[1].id and hits[1].title == "Island trip"
    assert hits[1].snippet.count("«quokka»") == 3
    assert hits[2].message_id == sparse_msgs[1].id
    assert "«quokka» appears once" in hits[2].snippet and len(hits[2].snippet) < 400
    assert [p.text for p in hits[2].parts if p.hit] == ["quokka"]
    assert "".join(p.text for p in hits[2].parts) == hits[2].snippet.replace("«", "").replace("»", "")


async def test_websearch_syntax_and_case(alice) -> None:
    a, _ = await conversation(
        alice, "Recipes", "How long to bake sourdough bread?", "About 45 minutes at 230 °C."
    )
    b, _ = await conversation(alice, "Shopping", "Buy bread and milk", "Noted.")
    c, _ = await conversation(alice, "Garden", "When to plant tomatoes?", "After the last frost.")
    assert {h.conversation_id for h in await chat.search(alice, "BREAD")} == {a.id, b.id}
    assert [h.conversation_id for h in await chat.search(alice, '"sourdough bread"')] == [a.id]
    assert [h.conversation_id for h in await chat.search(alice, "bread -milk")] == [a.id]
    assert {h.conversation_id for h in await chat.search(alice, "milk or tomatoes")} == {b.id, c.id}
    assert await chat.search(alice, "   ") == []
    assert await chat.search(alice, "!!! ???") == []  # no searchable word
    with pytest.raises(ValidationError, match="too long"):
        await chat.search(alice, "x" * 501)


async def test_matches_in_other_branches_and_markers_in_text(alice) -> None:
    c = await chat.create_conversation(alice, title="Branches")
    q = await chat.add_user_message(alice, c.id, None, "Say «hello» \x02politely\x03 to the pangolin")
    old = await chat.save_assistant_message(alice, c.id, q.id, "Hello, dear pangolin.")
    await chat.save_assistant_message(alice, c.id, q.id, "Hi there.")  # regenerated: the match is off-branch
    hits = await chat.search(alice, "pangolin")
    assert len(hits) == 1 and hits[0].message_id in (q.id, old.id)
    # Quotes and control characters in the text do not confuse the highlighting.
    hits = await chat.search(alice, "politely")
    assert [p.text for p in hits[0].parts if p.hit] == ["politely"]
    assert "«hello»" in hits[0].snippet
    # Opening the hit shows its branch.
    assert await chat.select_sibling(alice, c.id, old.id) == old.id


async def test_search_filters(alice) -> None:
    folder = await chat.create_folder(alice, "Projects")
    tag = await chat.create_tag(alice, "todo")
    await conversation(alice, "plain", "zebra crossing")
    filed, _ = await conversation(alice, "filed", "zebra stripes")
    await chat.move_to_folder(alice, filed.id, folder.id)
    tagged, _ = await conversation(alice, "tagged", "zebra mussels")
    await chat.tag_conversation(alice, tagged.id, tag.id)
    pinned, _ = await conversation(alice, "pinned", "zebra finch")
    await chat.set_pinned(alice, pinned.id, True)
    archived, _ = await conversation(alice, "archived", "zebra fish")
    await chat.set_archived(alice, archived.id, True)

    async def found(**kwargs: object) -> set[str]:
        hits = await chat.search(alice, "zebra", ConversationFilters(**kwargs))  # type: ignore[arg-type]
        return {h.title for h in hits}

    assert {h.title for h in await chat.search(alice, "zebra")} == {
        "plain",
        "filed",
        "tagged",
        "pinned",
        "archived",
    }
    assert await found() == {"plain", "filed", "tagged", "pinned"}  # the default filter hides archived ones
    assert await found(archived=True) == {"archived"}
    assert await found(folder_id=folder.id) == {"filed"}
    assert await found(tag_id=tag.id) == {"tagged"}
    assert await found(pinned=True) == {"pinned"}
    assert len(await chat.search(alice, "zebra", limit=2)) == 2
    with pytest.raises(ValidationError):
        await chat.search(alice, "zebra", limit=0)


async def test_search_is_per_user(alice, tenant, other_tenant) -> None:
    bob = await new_ctx(tenant.id, "bob@example.com")
    eve = await new_ctx(other_tenant.id, "eve@example.com")
    await conversation(alice, "Axolotl care", "How warm should the axolotl tank be?", "Cool: 16-18 °C.")
    mine, _ = await conversation(bob, "Bob's axolotl", "axolotl names?", "Axel.")
    assert [h.conversation_id for h in await chat.search(bob, "axolotl")] == [mine.id]
    assert await chat.search(eve, "axolotl") == []
    assert len(await chat.search(alice, "axolotl")) == 1


async def test_a_message_is_found_by_the_names_of_its_files(alice) -> None:
    c = await chat.create_conversation(alice, title="Numbers")
    part = {"type": "file", "file_id": None, "name": "Q3 board-report_final.pdf", "kind": "pdf", "size": 10}
    q = await chat.add_user_message(alice, c.id, None, "Summarise this, please.", content_parts=[part])
    await conversation(alice, "Other", "A report on nothing attached", "Fine.")
    hits = await chat.search(alice, "board")
    assert [(h.conversation_id, h.message_id) for h in hits] == [(c.id, q.id)]
    assert hits[0].snippet.startswith("📎 Q3 board-report_final.pdf — Summarise this")
    assert {h.conversation_id for h in await chat.search(alice, "final pdf")} == {c.id}
    # The model's generated column is the one the migration made (0010 writes it out).
    spec = importlib.util.spec_from_file_location(
        "m0010", ROOT / "alembic/versions/0010_message_search_file_names.py"
    )
    assert spec is not None and spec.loader is not None
    migration = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(migration)
    assert migration.NEW_SEARCH == MESSAGE_SEARCH


async def test_the_search_columns_match_their_gin_indexes(owner_url: str) -> None:
    """The generated columns and the queries use the same configuration, so the GIN indexes apply (the
    planner's choice at scale is shown by bench/chat_db.py). Checked as the owner: no RLS predicate."""
    async with await psycopg.AsyncConnection.connect(conninfo(owner_url)) as conn:
        await conn.execute("SET enable_seqscan = off")
        for table in ("conversations", "messages"):
            cur = await conn.execute(
                f"EXPLAIN SELECT id FROM {table} WHERE search @@ websearch_to_tsquery('simple', %s)",
                ("okapi",),
            )
            plan = "\n".join(str(r[0]) for r in await cur.fetchall())
            assert f"Bitmap Index Scan on ix_{table}_search" in plan, plan


async def test_the_matching_function_keeps_to_the_current_tenant_and_user(
    alice, tenant, other_tenant
) -> None:
    """`chat_search_matches` runs as its owner (so it can use the GIN indexes): it must apply the tenant rule
    itself. Called as the app role with raw SQL, it never returns another tenant's or user's rows."""
    bob = await new_ctx(tenant.id, "bob@example.com")
    eve = await new_ctx(other_tenant.id, "eve@example.com")
    mine, _ = await conversation(alice, "Kiwi", "kiwi fruit")
    await conversation(bob, "Kiwi too", "kiwi bird")
    await conversation(eve, "Kiwi three", "kiwi shoe polish")
    statement = "SELECT conversation_id FROM chat_search_matches(to_tsquery('simple', 'kiwi'), :u, 100)"
    assert set(await sql(alice.tenant_id, statement, u=alice.user_id)) == {(mine.id,)}  # title + message
    assert await sql(alice.tenant_id, statement, u=eve.user_id) == []  # another tenant's user: nothing
    async with global_session() as session:  # no tenant set: nothing, whoever is asked for
        for user in (alice.user_id, eve.user_id):
            assert (await session.execute(text(statement), {"u": user})).all() == []
    (definition,) = await sql(
        alice.tenant_id,
        "SELECT prosecdef, proconfig FROM pg_proc WHERE proname = 'chat_search_matches'",
    )
    assert definition[0] is True and "search_path=pg_catalog, pg_temp" in definition[1]
    assert "plan_cache_mode=force_custom_plan" in definition[1]


async def test_the_matching_function_answers_only_roles_that_may_read_the_tables(
    alice, owner_url: str
) -> None:
    """Even a role allowed to execute the function gets nothing unless it may read the tables itself."""
    mine, _ = await conversation(alice, "Wombat", "wombat burrows")
    call = "SELECT conversation_id FROM chat_search_matches(to_tsquery('simple', 'wombat'), %s, 100)"
    async with await psycopg.AsyncConnection.connect(conninfo(owner_url), autocommit=True) as conn:
        await conn.execute(
            "DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'chat_test_outsider') THEN"
            " CREATE ROLE chat_test_outsider NOLOGIN; END IF; END $$"
        )
        await conn.execute(f"GRANT EXECUTE ON FUNCTION {SIGNATURE} TO chat_test_outsider")
        try:
            for role, expected in (("app", {(mine.id,)}), ("chat_test_outsider", set())):
                async with conn.transaction():
                    await conn.execute(f"SET LOCAL SESSION AUTHORIZATION {role}")
                    await conn.execute(
                        "SELECT set_config('app.current_tenant_id', %s, true)", (str(alice.tenant_id),)
                    )
                    rows = await (await conn.execute(call, (alice.user_id,))).fetchall()
                    assert set(rows) == expected, role
        finally:
            await conn.execute(f"REVOKE EXECUTE ON FUNCTION {SIGNATURE} FROM chat_test_outsider")


async def test_only_the_app_role_may_execute_the_matching_function(alice, owner_url: str) -> None:
    """EXECUTE is revoked from PUBLIC (migration 0005): a role without the grant cannot even call it."""
    mine, _ = await conversation(alice, "Numbat", "numbat termites")
    call = "SELECT conversation_id FROM chat_search_matches(to_tsquery('simple', 'numbat'), %s, 100)"
    async with await psycopg.AsyncConnection.connect(conninfo(owner_url), autocommit=True) as conn:
        await conn.execute(
            "DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'chat_test_stranger') THEN"
            " CREATE ROLE chat_test_stranger NOLOGIN; END IF; END $$"
        )
        # Reading the tables is not enough: without EXECUTE the function is out of reach.
        await conn.execute("GRANT SELECT ON conversations, messages TO chat_test_stranger")
        try:
            async with conn.transaction():
                await conn.execute("SET LOCAL SESSION AUTHORIZATION chat_test_stranger")
                await conn.execute(
                    "SELECT set_config('app.current_tenant_id', %s, true)", (str(alice.tenant_id),)
                )
                with pytest.raises(psycopg.errors.InsufficientPrivilege):
                    await conn.execute(call, (alice.user_id,))
            async with conn.transaction():
                await conn.execute("SET LOCAL SESSION AUTHORIZATION app")
                await conn.execute(
                    "SELECT set_config('app.current_tenant_id', %s, true)", (str(alice.tenant_id),)
                )
                assert set(await (await conn.execute(call, (alice.user_id,))).fetchall()) == {(mine.id,)}
        finally:
            await conn.execute("REVOKE SELECT ON conversations, messages FROM chat_test_stranger")
        grantees = await (
            await conn.execute(
                "SELECT a.grantee::regrole::text FROM pg_proc p, aclexplode(p.proacl) a"
                " WHERE p.oid = %s::regprocedure AND a.privilege_type = 'EXECUTE'",
                (SIGNATURE,),
            )
        ).fetchall()
        assert "-" not in {g for (g,) in grantees}  # PUBLIC (grantee 0) is not among them
        assert "app" in {g for (g,) in grantees}


# Very common words: only the most recent matches are ranked (migration 0005) ---------------------------------

BULK = """
WITH c AS (
    INSERT INTO conversations (id, tenant_id, user_id, title, provider, model, pinned, archived, created_at,
                               updated_at)
    SELECT gen_random_uuid(), :tenant, :user, 'Bulk ' || i, '', '', false, i > :n - :archived,
           now() - make_interval(days => 400), now() - make_interval(mins => i + :offset)
    FROM generate_series(1, :n) i
    RETURNING id, updated_at, title
)
INSERT INTO messages (id, tenant_id, conversation_id, role, text, status, error_text, provider, model, created_at)
SELECT gen_random_uuid(), :tenant, c.id, 'user',
       'the cat and the hat' || CASE WHEN j = 1 AND split_part(c.title, ' ', 2)::int % 10 = 0
                                     THEN ' zoetrope' ELSE '' END,
       'complete', '', '', '', c.updated_at - make_interval(secs => 10 - j)
FROM c, generate_series(1, :per) j
"""


async def bulk(ctx: Ctx, n: int, per: int, offset: int, archived: int = 0) -> list[tuple[object, ...]]:
    """`n` conversations of `per` messages that all contain "the" (some also "zoetrope"), the newest `offset`
    minutes old, one minute apart; the `archived` oldest are archived. Their ids, newest first."""
    await sql(
        ctx.tenant_id,
        BULK,
        tenant=ctx.tenant_id,
        user=ctx.user_id,
        n=n,
        per=per,
        offset=offset,
        archived=archived,
    )
    return await sql(
        ctx.tenant_id,
        "SELECT id, archived FROM conversations WHERE user_id = :u AND title LIKE 'Bulk %' ORDER BY updated_at DESC",
        u=ctx.user_id,
    )


async def matches_and_indexes(
    ctx: Ctx, word: str, cap: int
) -> tuple[list[tuple[object, ...]], dict[str, int]]:
    """The function's rows for `word`, and how often each message index was scanned in doing it. The counters
    are read before and after in one transaction: since PostgreSQL 15 the "xact" counters also hold what earlier
    transactions of this pooled connection did that the backend has not flushed yet."""
    counters = text(
        "SELECT pg_stat_get_xact_numscans('ix_messages_search'::regclass),"
        " pg_stat_get_xact_numscans('ix_messages_parent'::regclass)"
    )
    async with tenant_session(ctx.tenant_id) as session:
        before = (await session.execute(counters)).one()
        rows = (
            await session.execute(
                text(
                    "SELECT conversation_id, message_id FROM chat_search_matches(to_tsquery('simple', :w), :u, :cap)"
                ),
                {"w": word, "u": ctx.user_id, "cap": cap},
            )
        ).all()
        after = (await session.execute(counters)).one()
    scans = [a - b for a, b in zip(after, before, strict=True)]
    return [tuple(r) for r in rows], {"gin": scans[0], "recency": scans[1]}


async def test_a_common_word_ranks_only_the_most_recent_matches(
    alice, tenant, other_tenant, owner_url
) -> None:
    bob = await new_ctx(tenant.id, "bob@example.com")
    eve = await new_ctx(other_tenant.id, "eve@example.com")
    mine = [c for c, _ in await bulk(alice, 300, 10, offset=60)]
    # Newer than all of Alice's: another user of her workspace and a user of another workspace.
    theirs = {c for c, _ in await bulk(bob, 40, 10, offset=0)} | {
        c for c, _ in await bulk(eve, 40, 10, offset=0)
    }
    async with await psycopg.AsyncConnection.connect(conninfo(owner_url), autocommit=True) as conn:
        await conn.execute("ANALYZE messages")  # the planner now knows "the" is in (nearly) every message

    # "the": by recency (never the GIN index), the newest 25 matches + 1 of Alice's only: 3 conversations.
    rows, scans = await matches_and_indexes(alice, "the", 25)
    assert scans["gin"] == 0 and scans["recency"] > 0, scans
    assert len(rows) == 26 and all(message is not None for _, message in rows)
    assert {c for c, _ in rows} == set(mine[:3])
    # The same strictness on this path: another tenant's user, or no tenant at all, gets nothing.
    call = "SELECT message_id FROM chat_search_matches(to_tsquery('simple', 'the'), :u, 25)"
    assert await sql(alice.tenant_id, call, u=eve.user_id) == []
    async with global_session() as session:
        assert (await session.execute(text(call), {"u": alice.user_id})).all() == []
    found = await search_results(alice, "the", ranked_matches=25)
    assert found.truncated
    assert {h.conversation_id for h in found.hits} == set(mine[:3])
    assert not {h.conversation_id for h in found.hits} & theirs

    # A rare word: by the GIN index, and the same rule (the most recent matches) when there are more than the cap.
    # (Which index the planner then uses for so small a table is its own choice.)
    rows, _ = await matches_and_indexes(alice, "zoetrope", 5)
    planted = [c for i, c in enumerate(mine) if (i + 1) % 10 == 0]  # 'Bulk 10', 'Bulk 20', ...
    assert sorted(str(c) for c, _ in rows) == sorted(str(c) for c in planted[:6])
    found = await search_results(alice, "zoetrope", ranked_matches=5)
    assert found.truncated and {h.conversation_id for h in found.hits} == set(planted[:6])
    found = await search_results(alice, "zoetrope")  # under the cap: every match, nothing cut
    assert not found.truncated and len(found.hits) == 20
    assert {h.conversation_id for h in found.hits} <= set(planted)
    for ctx in (bob, eve):  # theirs are found by them only (their plants are theirs)
        assert {h.conversation_id for h in (await search_results(ctx, "zoetrope")).hits} <= theirs


async def test_the_cap_counts_only_the_conversations_the_filters_ask_for(alice) -> None:
    """Filters are applied inside the matching function: the newest matches elsewhere do not hide these."""
    mine = await bulk(alice, 60, 10, offset=0, archived=4)
    archived = [c for c, is_archived in mine if is_archived]
    assert len(archived) == 4
    found = await search_results(alice, "the", ConversationFilters(archived=True), ranked_matches=15)
    assert found.truncated and {h.conversation_id for h in found.hits} == set(archived[:2])
    found = await search_results(alice, "the", ConversationFilters(archived=True))
    assert not found.truncated and {h.conversation_id for h in found.hits} == set(archived)
    with pytest.raises(ValidationError):
        await search_results(alice, "the", ranked_matches=0)
