"""Memory at the size a long-time member reaches: how long choosing a reply's memories takes with 1,000 of them.

In its own database (bench/knowledge.py's, dropped at the end), against the fake OpenAI-compatible server's
/v1/embeddings (384 numbers) in a child process. The member gets --memories memories (each embedded, as the
Memory page adds them); then, for --queries questions, the time of `services.memory.select.choose` (one query,
exact similarity over all of them, packing in MEMORY_TOKEN_BUDGET) and of the question's embedding + choose, as the
reply turn runs it (beside the provider's resolution and the knowledge search, so it adds at most this to the
first token). Target: choose under 15 ms p95. Extraction (model calls per 100 user turns) is not built yet.

Run: `make bench-memory` (`BENCH_ARGS="--memories 200 --queries 50"` for a short run).
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
CATEGORIES = ("profile", "preference", "goal", "business", "other")


async def run(memories: int, queries: int) -> None:
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
        print("extraction (model calls per 100 user turns): not built yet")
    finally:
        await dispose_all()


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--memories", type=int, default=1000)
    parser.add_argument("--queries", type=int, default=200)
    args = parser.parse_args()
    os.environ.update(
        {"MEMORY_MAX_COUNT": str(args.memories + 10), "MEMORY_MAX_TOKENS": str(args.memories * 100)}
    )
    with_fake_and_database("solo-bench-memory-", lambda _socket, _folder: run(args.memories, args.queries))


if __name__ == "__main__":
    main()
