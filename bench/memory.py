"""Memory at the size a long-time member reaches: how long choosing a reply's memories takes with 1,000 of them.

In its own database (bench/knowledge.py's, dropped at the end), against the fake OpenAI-compatible server's
/v1/embeddings (384 numbers) in a child process. The member gets --memories memories (each embedded, as the
Memory page adds them); then, for --queries questions, the time of `services.memory.select.choose` (one query,
exact similarity over all of them, packing in MEMORY_TOKEN_BUDGET) and of the question's embedding + choose, as the
reply turn runs it (beside the provider's resolution and the knowledge search, so it adds at most this to the
first token). Target: choose under 15 ms p95.

Extraction cost: members chat through the real reply turn (services/turns) against the fake provider, in visits:
a visit opens one to three chats of a few turns each (short ones most often), the member's messages a mix of
questions (some with "I"/"my", as people ask) and things they say about themselves. Turns within a visit come
faster than MEMORY_EXTRACT_QUIET_SECONDS; between visits the quiet period passes (the bench makes the member's
job due, as time would). The app's worker loop runs whatever is due after every turn. Every extraction run that
asks the model is a row of `memory_extractions` (one request each: the job's provider retries are off), so
"model calls per 100 user turns" is counted there. Target: at most 25. Also printed: the same count for two
extreme members, one who says something about themselves in every message of long chats, and one who comes back
for a single such message each visit (the quiet period then costs one call per visit: the bound of the design).

Run: `make bench-memory` (`BENCH_ARGS="--memories 200 --queries 50 --turns 100"` for a short run).
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.chat_db import Words, p95  # noqa: E402
from bench.knowledge import make_users, with_fake_and_database  # noqa: E402

TARGET_MS = 15.0
TARGET_CALLS = 25.0  # extraction model calls per 100 user turns, at most
CATEGORIES = ("profile", "preference", "goal", "business", "other")
ABOUT_ME = (
    "I run a {a} studio for {b} clients.|My main offer is a {a} program that costs {n} euros.|We are launching a "
    "{a} course in {m}.|I prefer short answers with bullet points.|My audience is mostly {b} owners in {c}.|Our "
    "{a} membership has {n} members now.|I want to reach {n} clients by {m}.|I'm based in {c} and work with {b} "
    "teams."
).split("|")
QUESTIONS = (
    "What is a good {a} offer for {b} clients?|How do I price a {a} program?|Write three subject lines about "
    "{a}.|Can you summarise the {a} framework?|Give me a {a} checklist for {b}.|What should I post about {a} this "
    "week?|Draft a short email about the {a} launch.|Which {a} metrics matter most for {b}?"
).split("|")
MONTHS = ("March", "May", "June", "September", "November")


def _message(rng: random.Random, words: Words, about_me: bool) -> str:
    a, b, c = words.text(1, 1), words.text(1, 1), words.text(1, 1)
    template = rng.choice(ABOUT_ME if about_me else QUESTIONS)
    return template.format(a=a, b=b, c=c.title(), n=rng.randint(2, 90) * 100, m=rng.choice(MONTHS))


def _visits(rng: random.Random, workload: str, turns: int) -> list[list[list[bool]]]:
    """Visits of chats of turns, each turn True when the member says something about themselves."""
    visits: list[list[list[bool]]] = []
    left = turns
    while left > 0:
        if workload == "chatty":
            chats = [[True] * min(left, 12)]
        elif workload == "one-off":
            chats = [[True]]
        else:
            chats = []
            for _ in range(rng.choices((1, 2, 3), (0.6, 0.3, 0.1))[0]):
                length = min(1 + int(rng.expovariate(1 / 3.5)), 20)  # short chats most often, mean ~4 turns
                chats.append([rng.random() < 0.45 for _ in range(length)])
        trimmed = []
        for chat in chats:
            chat = chat[:left]
            if chat:
                trimmed.append(chat)
                left -= len(chat)
        visits.append(trimmed)
    return visits


async def extraction_cost(rng: random.Random, words: Words, workload: str, turns: int) -> tuple[int, int]:
    """(user turns, extraction model calls) for one member chatting `turns` times in `workload`'s pattern."""
    import uuid

    from sqlalchemy import text

    from services.context import Ctx
    from services.db import global_session, tenant_session
    from services.jobs.queue import run_once
    from services.memory import extract
    from services.turns import UserMessage, run_turn

    tenant_id, (user_id,) = await make_users(
        [f"{workload}-{uuid.uuid4().hex[:6]}@example.com"], slug_suffix=workload
    )
    ctx = Ctx(tenant_id=tenant_id, user_id=user_id, role="member")

    async def sink(_text: str) -> None:
        return None

    async def work() -> None:
        while await run_once("bench-memory", kinds=[extract.KIND]):
            pass

    done = 0
    for visit in _visits(rng, workload, turns):
        for chat in visit:
            cid, parent = uuid.uuid4(), None
            for about_me in chat:
                mid = uuid.uuid4()
                user = UserMessage(
                    mid, parent, _message(rng, words, about_me), new_conversation=parent is None
                )
                result = await run_turn(ctx, cid, mid, "fake/fake-model", on_text=sink, user=user)
                if result.failed or result.reply is None:
                    raise SystemExit(f"a bench turn failed: {result.error}")
                parent, done = result.reply.id, done + 1
                await work()  # the app's worker runs what is due (the N-th pending turn)
        async with global_session() as session:  # the member goes quiet: the quiet period passes
            await session.execute(
                text("UPDATE jobs SET run_at = now() WHERE dedupe_key = :k AND status = 'queued'"),
                {"k": extract.job_key(user_id)},
            )
        await work()
    async with tenant_session(tenant_id) as session:
        calls = (
            await session.execute(
                text("SELECT count(*) FROM memory_extractions WHERE user_id = :u"), {"u": user_id}
            )
        ).scalar_one()
    return done, int(calls)


async def run(memories: int, queries: int, extract_turns: int) -> None:
    from services.context import Ctx
    from services.db import dispose_all
    from services.memory import select, store

    rng = random.Random(20261203)
    words = Words(rng, size=3000)
    try:
        tenant_id, (user_id,) = await make_users(["member@example.com"])
        ctx = Ctx(tenant_id=tenant_id, user_id=user_id, role="member")
        started = time.perf_counter()
        for i in range(memories):
            await store.add_memory(
                ctx, words.text(6, 16), category=CATEGORIES[i % 5], pinned=i % 100 == 0, source="imported"
            )
        took = time.perf_counter() - started
        print(f"{memories:,} memories added (each embedded) in {took:.1f} s ({memories / took:,.0f}/s)")
        asked = [words.text(6, 14) + "?" for _ in range(queries)]
        vectors = [await store.vector_of(ctx, q) for q in asked]
        for v in vectors[:5]:  # warm up
            await select.choose(ctx, v)
        alone, whole, counts = [], [], []
        for q, v in zip(asked, vectors, strict=True):
            started = time.perf_counter()
            chosen = await select.choose(ctx, v)
            alone.append((time.perf_counter() - started) * 1000)
            counts.append(len(chosen))
            started = time.perf_counter()
            await select.choose(ctx, await store.vector_of(ctx, q))
            whole.append((time.perf_counter() - started) * 1000)

        def figures(values: list[float]) -> str:
            return f"p50 {statistics.median(values):6.2f} ms   p95 {p95(values):6.2f} ms"

        verdict = "target met" if p95(alone) <= TARGET_MS else "target missed"
        print(
            f"choose() over {memories:,} memories          {figures(alone)}   ({verdict}: {TARGET_MS:.0f} ms p95)"
        )
        print(f"question embedding (fake) + choose()   {figures(whole)}")
        print(f"memories chosen per reply (600-token budget): mean {statistics.mean(counts):.1f}")
        for label, workload in (
            ("a realistic mix of members", "mix"),
            ("says something about themselves in every message of long chats", "chatty"),
            ("one such message per visit, then gone past the quiet period", "one-off"),
        ):
            turns, calls = await extraction_cost(rng, words, workload, extract_turns)
            per_100 = calls * 100 / max(turns, 1)
            mark = f"  (target: at most {TARGET_CALLS:.0f}: {'met' if per_100 <= TARGET_CALLS else 'missed'})"
            print(
                f"extraction, {label}: {calls} model calls for {turns} user turns = {per_100:.1f} per 100"
                + (mark if workload == "mix" else "")
            )
    finally:
        await dispose_all()


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--memories", type=int, default=1000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--turns", type=int, default=200, help="user turns per extraction workload")
    args = parser.parse_args()
    os.environ.update(
        {"MEMORY_MAX_COUNT": str(args.memories + 10), "MEMORY_MAX_TOKENS": str(args.memories * 100)}
    )
    with_fake_and_database(
        "solo-bench-memory-", lambda _socket, _folder: run(args.memories, args.queries, args.turns)
    )


if __name__ == "__main__":
    main()
