"""Knowledge at scale: ingestion speed, hybrid search latency, HNSW recall and the memory of a large upload, in
its own database `solo_bench_knowledge` (under `.data/bench`, dropped at the end), against the fake
OpenAI-compatible server's /v1/embeddings (384 numbers, an HNSW-indexed size) in a child process.

1. Ingestion: a generated --pages PDF extracted, chunked, embedded; then one upload -> ready through the worker.
2. Search at --chunks chunks in --files files (COPY; Zipf words, clustered embeddings): `search()` over --scope
   files and one file, and `knowledge_matches` by halves (search() runs them side by side), as the app role.
3. HNSW recall@10 of the matcher's vector half against an exact ordering (owner, index scans off).
4. Memory: the API app under granian in a child process, its RSS while --upload-mb of text is POSTed.

Run: `make bench-knowledge` (`BENCH_ARGS="--quick"`: 5,000 chunks and a 50 MB upload, under a minute).
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import itertools
import json
import math
import os
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
import warnings
from collections.abc import AsyncIterator, Callable, Coroutine
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import psutil
import psycopg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR")

from bench.chat_db import APP_PASSWORD, DATA_DIR, Words, p95, start_server  # noqa: E402
from bench.startup import free_port  # noqa: E402

DB_NAME, SLUG, DIM, CENTROIDS = "solo_bench_knowledge", "bench-knowledge", 384, 200
CANDIDATES = 40  # what search() asks knowledge_matches for (services.knowledge.search.CANDIDATES)
SEARCH_TARGET_MS, RECALL_TARGET, GROWTH_TARGET_MB = 50.0, 0.95, 50.0
FAKE = "import sys; from tests.fakes.llm_server import FakeLLMServer as F; s = F(port=int(sys.argv[1])).start(); "
FAKE += "s.configure(embedding_dim=384); print('ready', flush=True); sys.stdin.read()"
TEMPLATES = (
    "What does the {a} guide say about {b}?|How do I set up {a} {b} for {c}?|Why is the {a} {b} higher in "
    "the {c} report?|Summarise the section on {a} and {b}|When was the {b} {c} policy introduced?|Which steps "
    "of {a} depend on {c}?|Is {b} allowed under the {a} rules?|Compare {a} with {b} and {c}"
).split("|")
MATCH = (  # the keyword tiers as search() sends them (none when %(q)s is NULL)
    "SELECT chunk_id FROM knowledge_matches(ARRAY(SELECT to_tsquery('simple', t.q) FROM unnest(%(q)s::text[])"
    " WITH ORDINALITY AS t(q, n) ORDER BY t.n), %(v)s::vector, %(u)s, %(s)s::uuid[], %(k)s) ORDER BY kind, place"
)


def figures(values: list[float]) -> str:
    return f"p50 {statistics.median(values):7.2f} ms   p95 {p95(values):7.2f} ms"


def ms_since(started: float) -> float:
    return (time.perf_counter() - started) * 1000


def verdict(ok: bool) -> str:
    return "target met" if ok else "target missed"


def unit(values: list[float]) -> list[float]:
    norm = math.sqrt(sum(v * v for v in values)) or 1.0
    return [v / norm for v in values]


def literal(values: list[float]) -> str:
    return "[" + ",".join(f"{v:.6g}" for v in values) + "]"


def conninfo(socket_dir: Path, role: str = "app", db: str = DB_NAME) -> str:
    if role == "app":
        return f"host={socket_dir} user=app password={APP_PASSWORD} dbname={db}"
    return f"host={socket_dir} user=postgres dbname={db}"


def reset_database(socket_dir: Path, *, create: bool) -> None:
    with psycopg.connect(conninfo(socket_dir, "owner", "postgres"), autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)")
        if create:
            conn.execute(f"CREATE DATABASE {DB_NAME}")


def prepare(socket_dir: Path, files_dir: Path, fake_url: str) -> None:
    """A fresh database, migrated; the settings pointed at it, at the fake embeddings and at `files_dir`."""
    from services.config import get_settings
    from services.pg import embedded_url
    from services.setup import setup

    reset_database(socket_dir, create=True)
    os.environ.update({
        "DATABASE_URL": embedded_url(socket_dir, "postgres", DB_NAME), "APP_DB_PASSWORD": APP_PASSWORD,
        "APP_DATABASE_URL": embedded_url(socket_dir, "app", DB_NAME, APP_PASSWORD),
        "SOLO_DATA_DIR": str(DATA_DIR), "FILES_DIR": str(files_dir),
        "LLM_ENDPOINTS": json.dumps([{"id": "fake", "base_url": fake_url, "api_key": "k"}]),
        "EMBEDDINGS_PROVIDER": "fake", "EMBEDDINGS_MODEL": "fake-embed", "EMBEDDINGS_DIM": str(DIM),
    })  # fmt: skip
    get_settings.cache_clear()
    setup(create_db=False)


async def make_users(emails: list[str], *, slug_suffix: str = "") -> tuple[uuid.UUID, list[uuid.UUID]]:
    """A new workspace (its slug: SLUG, then `slug_suffix`) with these members."""
    from services import tenants
    from services.auth.accounts import create_user
    from services.db import global_session, tenant_session

    async with global_session() as session:
        slug = f"{SLUG}-{slug_suffix}" if slug_suffix else SLUG
        tenant = await tenants.create_tenant(session, name="Bench knowledge", slug=slug)
    async with tenant_session(tenant.id) as session:
        users = [await create_user(session, tenant.id, email=e) for e in emails]
    return tenant.id, [u.id for u in users]


def timed(call: Callable[[], Any], at_least: float = 1.0) -> tuple[Any, float]:
    """`call()`'s result and its seconds per call, repeated until `at_least` seconds have passed."""
    runs, started = 0, time.perf_counter()
    while True:
        result, runs = call(), runs + 1
        if (elapsed := time.perf_counter() - started) >= at_least:
            return result, elapsed / runs


# 1. Ingestion -------------------------------------------------------------------------------------------------


async def ingestion(ctx: Any, folder: Path, words: Words, pages: int) -> None:
    from services.files import records, sniff
    from services.jobs.worker import run_worker
    from services.knowledge.chunk import chunk
    from services.knowledge.embed import embed, embeddings_config
    from services.knowledge.extract import extract
    from services.knowledge.ingest import EMBED_BATCH
    from tests.fakes.documents import make_pdf

    path = folder / "handbook.pdf"  # pages of about 500 words: 45 lines of 8 to 14 words
    path.write_bytes(make_pdf(["\n".join(words.text(8, 14) for _ in range(45)) for _ in range(pages)]))
    print(f"1. ingestion: a PDF of {pages} pages ({path.stat().st_size / 1e6:.1f} MB, ~500 words a page)")
    sections, per_extract = await asyncio.to_thread(timed, lambda: extract(path, "pdf"))
    print(f"   extract (pypdf, in-process)     {pages / per_extract:9,.0f} pages/s  ({per_extract:.2f} s)")
    chunks, per_chunk = await asyncio.to_thread(timed, lambda: chunk(sections))
    print(f"   chunk                           {len(chunks) / per_chunk:9,.0f} chunks/s ({len(chunks)})")
    cfg = await embeddings_config(ctx.tenant_id)
    assert cfg is not None, "the fake embeddings provider is not configured"
    texts = [f"{c.heading}\n{c.text}" if c.heading else c.text for c in chunks]
    await embed(cfg, texts[:4])  # warm: the SDK import and the connection
    started = time.perf_counter()
    vectors = await embed(cfg, texts, batch=EMBED_BATCH)
    took = time.perf_counter() - started
    assert len(vectors) == len(texts) and len(vectors[0]) == DIM
    print(
        f"   embed (fake server, HTTP)       {len(texts) / took:9,.0f} chunks/s ({took:.2f} s, {EMBED_BATCH} a batch)"
    )
    shutil.copyfile(path, staged := folder / "staged.pdf")
    worker = asyncio.create_task(run_worker(1, stop := asyncio.Event()))
    await asyncio.sleep(1.0)  # the worker is idle and polling, as in the app
    started = time.perf_counter()
    digest = await asyncio.to_thread(records.sha256_of, staged)
    found = await asyncio.to_thread(sniff.detect, staged, "handbook.pdf")
    info = (await records.register(ctx, staged, "handbook.pdf", staged.stat().st_size, digest, found)).file
    seen: dict[str, float] = {"registered": time.perf_counter() - started}
    while info.status not in ("ready", "failed") and time.perf_counter() - started < 600:
        await asyncio.sleep(0.05)
        info = await records.get(ctx, info.id)
        seen.setdefault(info.stage or info.status, time.perf_counter() - started)
    stop.set()
    await worker
    stages = ", ".join(f"{name} {at:.2f} s" for name, at in seen.items())
    print(
        f"   upload -> ready (register + job worker): {seen.get('ready', float('nan')):.2f} s "
        f"[{info.status}, {info.chunk_count} chunks, embedded={info.embedded}] (first seen: {stages})\n"
    )


# 2. Hybrid search: loading the chunks, then searching ---------------------------------------------------------


def clustered(rng: random.Random, cents: list[list[float]], noise: float) -> list[float]:
    return unit([x + rng.gauss(0.0, noise) for x in rng.choice(cents)])


def load(
    socket_dir: Path, tenant_id: uuid.UUID, user_id: uuid.UUID, words: Words, rng: random.Random, args: Any
) -> tuple[list[uuid.UUID], list[list[float]]]:
    """Files and chunks of one user; the file ids and the centroids. The embeddings are made in Postgres: the
    centroid of one of the file's three topics (its main one 70% of the time) + N(0, noise) per number."""
    print(f"2. hybrid search at {args.chunks:,} chunks of {DIM} numbers in {args.files:,} files of one user")
    marks = [time.perf_counter()]
    cents = [unit([rng.gauss(0.0, 1.0) for _ in range(DIM)]) for _ in range(CENTROIDS)]
    file_ids = [uuid.uuid4() for _ in range(args.files)]
    per_file = [args.chunks // args.files + (i < args.chunks % args.files) for i in range(args.files)]
    now = datetime.now(UTC)
    with psycopg.connect(conninfo(socket_dir, "owner")) as conn:
        conn.execute("SET maintenance_work_mem = '1GB'; SET max_parallel_maintenance_workers = 2")
        indexes = conn.execute(  # rebuilt after the load: much faster than maintaining them row by row
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'file_chunks'"
            " AND indexname IN ('ix_file_chunks_search', %s)",
            (f"ix_file_chunks_embedding_{DIM}",),
        ).fetchall()
        for name, _ in indexes:
            conn.execute(f"DROP INDEX {name}")
        conn.execute(f"CREATE TEMP TABLE bench_centroids (n integer PRIMARY KEY, c vector({DIM}))")
        with conn.cursor().copy("COPY bench_centroids (n, c) FROM STDIN") as copy:
            for n, c in enumerate(cents):
                copy.write_row((n, literal(c)))
        with conn.cursor().copy(
            "COPY files (id, tenant_id, user_id, name, kind, mime, size_bytes, sha256, storage_key, status, stage,"
            " progress, pages, tokens, chunk_count, embedded, embeddings_model, created_at, updated_at) FROM STDIN"
        ) as copy:
            for i, (fid, n) in enumerate(zip(file_ids, per_file, strict=True)):
                copy.write_row((
                    fid, tenant_id, user_id, f"{words.text(2, 4).title()} {i:04d}.pdf", "pdf",
                    "application/pdf", 30_000 * n, hashlib.sha256(fid.bytes).hexdigest(),
                    f"tenant/{tenant_id}/user/{user_id}/{fid}", "ready", "", 100, n // 2 + 1, 300 * n, n,
                    True, "fake-embed", now, now,
                ))  # fmt: skip
        conn.execute(
            "CREATE TEMP TABLE bench_stage (id uuid, file_id uuid, ordinal integer, page integer,"
            " heading text, tokens integer, text text, cluster integer)"
        )
        with conn.cursor().copy("COPY bench_stage FROM STDIN") as copy:
            for fid, n in zip(file_ids, per_file, strict=True):
                topics, heading = rng.sample(range(CENTROIDS), 3), ""
                for ordinal in range(n):
                    heading = words.text(2, 5).capitalize() if ordinal % 5 == 0 else heading
                    body = words.text(120, 300)
                    cluster = topics[0] if rng.random() < 0.7 else rng.choice(topics[1:])
                    tokens, page = int(body.count(" ") * 1.3) + 1, ordinal // 2 + 1
                    copy.write_row((uuid.uuid4(), fid, ordinal, page, heading, tokens, body, cluster))
        marks.append(time.perf_counter())
        conn.execute("SELECT setseed(0.26)")
        conn.execute(  # the subquery refers to the row, so that each chunk gets its own noise
            "INSERT INTO file_chunks (id, tenant_id, file_id, user_id, ordinal, page, heading, tokens, text,"
            " embedding_dim, embedding)"
            f" SELECT s.id, %(t)s, s.file_id, %(u)s, s.ordinal, s.page, s.heading, s.tokens, s.text, {DIM},"
            f"  l2_normalize(c.c + (SELECT array_agg(random_normal(0, %(noise)s)) FROM generate_series(1, {DIM})"
            f"                      WHERE s.ordinal >= 0)::vector({DIM}))"
            " FROM bench_stage s JOIN bench_centroids c ON c.n = s.cluster",
            {"t": tenant_id, "u": user_id, "noise": args.noise},
        )
        marks.append(time.perf_counter())
        conn.execute("DROP TABLE bench_stage; SET CONSTRAINTS ALL IMMEDIATE")
        for _, definition in indexes:
            conn.execute(definition)
        conn.commit()
    with psycopg.connect(conninfo(socket_dir, "owner"), autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE files")
        conn.execute("VACUUM ANALYZE file_chunks")
        sizes = conn.execute(
            "SELECT pg_size_pretty(pg_table_size('file_chunks')),"
            " pg_size_pretty(pg_relation_size('ix_file_chunks_search')),"
            f" pg_size_pretty(pg_relation_size('ix_file_chunks_embedding_{DIM}'))"
        ).fetchone() or ("?", "?", "?")
    marks.append(time.perf_counter())
    steps = [b - a for a, b in itertools.pairwise(marks)]
    print(
        f"   loaded {args.chunks:,} chunks in {args.files:,} files in {marks[-1] - marks[0]:.0f} s (text made and"
        f" copied {steps[0]:.0f} s, embeddings + tsvectors {steps[1]:.0f} s, indexes + vacuum {steps[2]:.0f} s);"
        f" table {sizes[0]}, GIN {sizes[1]}, HNSW {sizes[2]}"
    )
    return file_ids, cents


def questions(words: Words, rng: random.Random, n: int) -> list[str]:
    """Questions naming a fairly common word, a middling one and a rare one of the vocabulary."""
    common, middling, rare = words.words[15:115], words.words[115:1500], words.words[1500:]
    pick = rng.choice
    return [pick(TEMPLATES).format(a=pick(common), b=pick(middling), c=pick(rare)) for _ in range(n)]


def matches(conn: psycopg.Connection, tid: uuid.UUID, params: Any, sql: str = MATCH, ef: int = 0) -> Any:
    """(ms, chunk ids) of one knowledge_matches call (or `sql`) as the app role, RLS on, at hnsw.ef_search `ef`
    (pgvector's default 40 when 0; knowledge_matches sets its own)."""
    with conn.transaction():
        conn.execute(
            "SELECT set_config('app.current_tenant_id', %s, true), set_config('hnsw.ef_search', %s, true)",
            (str(tid), str(ef or 40)),
        )
        started = time.perf_counter()
        rows = conn.execute(sql, params).fetchall()
        return ms_since(started), [r[0] for r in rows]


async def searching(
    socket_dir: Path, ctx: Any, file_ids: list[uuid.UUID], words: Words, rng: random.Random, args: Any
) -> None:
    from services.files import records
    from services.knowledge.embed import embed, embeddings_config
    from services.knowledge.search import keyword_tiers, search

    asked = questions(words, rng, args.queries)
    scopes = {
        f"(a) {args.scope} files": [rng.sample(file_ids, args.scope) for _ in asked],
        "(b) one file": [[rng.choice(file_ids)] for _ in asked],
    }
    steps: dict[str, list[float]] = {"question embedding (fake, HTTP)": [], "embeddings config": []}
    vectors: list[str] = []
    for q in asked:
        started = time.perf_counter()
        cfg = await embeddings_config(ctx.tenant_id)
        steps["embeddings config"].append(ms_since(started))
        assert cfg is not None
        started = time.perf_counter()
        vectors.append(literal((await embed(cfg, [q]))[0]))
        steps["question embedding (fake, HTTP)"].append(ms_since(started))
    print(f"   e.g. {asked[0]!r} -> keyword tiers {keyword_tiers(asked[0])}")
    for name, values in steps.items():
        print(f"   {name:<45} {figures(values)}")
    app = psycopg.connect(conninfo(socket_dir))
    for label, scope_list in scopes.items():
        pairs = list(zip(asked, scope_list, strict=True))
        for q, scope in pairs[:5]:  # warm up
            await search(ctx, q, file_ids=scope)
        wall, hits, readable = [], [], []
        for q, scope in pairs:
            started = time.perf_counter()
            found = await search(ctx, q, file_ids=scope)
            wall.append(ms_since(started))
            assert not found.keyword_only, "the question was not embedded"
            hits.append(len(found.hits))
            started = time.perf_counter()
            await records.readable_ids(ctx, scope)
            readable.append(ms_since(started))
        halves: dict[str, list[float]] = {"keyword half": [], "vector half": [], "both halves": []}
        rows = dict.fromkeys(halves, 0)
        for (q, scope), vector in zip(pairs, vectors, strict=True):
            base, terms = {"u": ctx.user_id, "s": scope, "k": CANDIDATES}, keyword_tiers(q) or None
            for name, params in (
                ("keyword half", {**base, "q": terms, "v": None}),
                ("vector half", {**base, "q": None, "v": vector}),
                ("both halves", {**base, "q": terms, "v": vector}),
            ):
                took, ids = await asyncio.to_thread(matches, app, ctx.tenant_id, params)
                halves[name].append(took)
                rows[name] += len(ids)
        print(
            f"   search() {label:<36} {figures(wall)}   ({statistics.mean(hits):.1f} hits;"
            f" {verdict(p95(wall) <= SEARCH_TARGET_MS)}: {SEARCH_TARGET_MS:.0f} ms p95)"
        )
        print(f"     {'records.readable_ids (the scope check)':<43} {figures(readable)}")
        for name, values in halves.items():
            print(
                f"     knowledge_matches, {name:<24} {figures(values)}   ({rows[name] / len(asked):.0f} rows)"
            )
    app.close()


# 3. Recall ----------------------------------------------------------------------------------------------------


def recall(socket_dir: Path, ctx: Any, file_ids: list[uuid.UUID], cents: Any, args: Any) -> None:
    rng, tid = random.Random(7), ctx.tenant_id
    queries = [literal(clustered(rng, cents, args.noise)) for _ in range(args.queries)]
    scopes = {f"all {len(file_ids):,} files": [file_ids] * len(queries)}
    scopes[f"{args.scope} files"] = [rng.sample(file_ids, args.scope) for _ in queries]
    print(
        f"\n3. HNSW recall@10 vs exact: {len(queries)} query vectors drawn like the chunks ({CENTROIDS} centroids"
        f" + N(0, {args.noise}) per number, normalised)"
    )
    app = psycopg.connect(conninfo(socket_dir))
    owner = psycopg.connect(conninfo(socket_dir, "owner"), autocommit=True)
    owner.execute("SET enable_indexscan = off; SET enable_bitmapscan = off")
    order = f"ORDER BY embedding::vector({DIM}) <=> %(v)s::vector({DIM}) LIMIT 10"
    exact = f"SELECT id FROM file_chunks WHERE embedding_dim = {DIM} AND file_id = ANY(%(s)s) {order}"
    for label, scope_list in scopes.items():
        asks = {10: "", CANDIDATES: ", as search() asks"}
        # The matcher: HNSW at ef_search max(5k, 200) above 10,000 chunks in scope, exact below.
        methods = {f"knowledge_matches k={k}{a}": (MATCH, k, 0) for k, a in asks.items()}
        exact_ms: list[float] = []
        found: dict[str, list[float]] = {m: [] for m in methods}
        took: dict[str, list[float]] = {m: [] for m in methods}
        for q, scope in zip(queries, scope_list, strict=True):
            params = {"q": None, "v": q, "u": ctx.user_id, "s": scope}
            started = time.perf_counter()
            truth = {r[0] for r in owner.execute(exact, params).fetchall()}
            exact_ms.append(ms_since(started))
            for name, (sql, k, ef) in methods.items():  # the vector half alone: its rows in distance order
                ms, ids = matches(app, tid, {**params, "k": k}, sql, ef)
                took[name].append(ms)
                found[name].append(len(set(ids[:10]) & truth) / max(1, len(truth)))
        print(f"   scope {label:<18} exact (sequential scan, owner)         {figures(exact_ms)}")
        for name, values in found.items():
            value, none = statistics.mean(values), sum(v == 0 for v in values)
            print(
                f"     {name:<53} recall@10 {value:.3f} ({none} found none of the 10;"
                f" {verdict(value >= RECALL_TARGET)}: {RECALL_TARGET})   {figures(took[name])}"
            )
    app.close()
    owner.close()


# 4. Memory of a large upload ----------------------------------------------------------------------------------


def serve_api(port: int) -> None:
    """The child process: our HTTP routes (as the app mounts them) served by granian on `port`."""
    from granian.constants import Interfaces
    from granian.server.embed import Server

    from app.api.routes import build_api

    server = Server(build_api(), address="127.0.0.1", port=port, interface=Interfaces.ASGI, log_enabled=False)
    signal.signal(signal.SIGTERM, lambda *_: server.stop())
    asyncio.run(server.serve())


def start_api(port: int, mb: int, log: Path) -> subprocess.Popen[bytes]:
    """The API server in a child process, with the upload limit and the quotas raised above `mb`."""
    env = {**os.environ, "UPLOAD_MAX_MB": str(mb + 100)}
    env.update(dict.fromkeys(("STORAGE_QUOTA_USER_MB", "STORAGE_QUOTA_TENANT_MB"), str(10 * mb + 1000)))
    with log.open("w") as out:
        proc = subprocess.Popen(
            [sys.executable, __file__, "--serve-api", str(port)], cwd=ROOT, env=env, stdout=out, stderr=out
        )
    for _ in range(300):
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        if proc.poll() is not None:
            break
        time.sleep(0.1)
    proc.kill()
    raise SystemExit(f"the API server did not start: see {log}")


def sample_rss(pid: int, into: list[int], halt: threading.Event) -> None:
    process = psutil.Process(pid)
    while not halt.is_set():
        into.append(process.memory_info().rss)
        halt.wait(0.05)


async def blocks(total: int, block: bytes) -> AsyncIterator[bytes]:
    sent = 0
    while sent < total:
        piece = block[: total - sent]
        sent += len(piece)
        yield piece


async def upload_memory(ctx: Any, words: Words, folder: Path, mb: int) -> None:
    from services.auth.accounts import start_session
    from services.context import TenantCtx
    from services.db import tenant_session

    async with tenant_session(ctx.tenant_id) as session:
        token, _ = await start_session(session, TenantCtx(tenant_id=ctx.tenant_id), ctx.user_id)
    port = free_port()
    proc = await asyncio.to_thread(start_api, port, mb, folder / "api.log")
    headers = {"host": f"{SLUG}.localhost:{port}", "cookie": f"solo_session={token}"}
    base, total = f"http://127.0.0.1:{port}", mb * 1024 * 1024
    print(f"\n4. memory of the API server (granian, pid {proc.pid}): {mb} MB of text to POST /api/files")
    lines: list[str] = []
    while sum(map(len, lines)) < 1024 * 1024:
        lines.append(f"{len(lines):07d} {words.text(8, 16)}\n")
    block = "".join(lines).encode()[: 1024 * 1024]
    samples: list[int] = []
    halt = threading.Event()  # the sampler's stop
    sampler = threading.Thread(target=sample_rss, args=(proc.pid, samples, halt), daemon=True)
    try:
        async with httpx.AsyncClient(base_url=base, headers=headers, timeout=900) as http:
            warm = await http.post("/api/files", params={"name": "warm.txt"}, content=block)
            assert warm.status_code == 201, warm.text  # the first upload loads what the route imports lazily
            sampler.start()
            await asyncio.sleep(1.5)
            baseline = statistics.median(samples)
            first, started, size = len(samples), time.perf_counter(), {"content-length": str(total)}
            big = {"name": "big export.txt"}
            answer = await http.post("/api/files", params=big, content=blocks(total, block), headers=size)
            took, during = time.perf_counter() - started, samples[first:]
            await asyncio.sleep(0.5)
        halt.set()
        sampler.join()
        assert answer.status_code == 201, (answer.status_code, answer.text[:200])
        peak, after = max(during), samples[-1]
        growth = (peak - baseline) / 2**20
        print(
            f"   upload {answer.status_code} in {took:.1f} s ({mb / took:.0f} MB/s); RSS baseline"
            f" {baseline / 2**20:.1f} MB, peak {peak / 2**20:.1f} MB, growth {growth:.1f} MB ({len(during)}"
            f" samples), after {after / 2**20:.1f} MB; {verdict(growth < GROWTH_TARGET_MB)}: growth <"
            f" {GROWTH_TARGET_MB:.0f} MB"
        )
    finally:
        halt.set()
        proc.terminate()
        try:
            await asyncio.to_thread(proc.wait, 15)
        except subprocess.TimeoutExpired:
            proc.kill()


async def run(socket_dir: Path, folder: Path, args: Any) -> None:
    from services.context import Ctx
    from services.db import dispose_all

    rng = random.Random(20261202)
    words = Words(rng, size=args.vocabulary)
    try:
        tenant_id, (reader, ingester) = await make_users(["reader@example.com", "ingest@example.com"])
        ctx = Ctx(tenant_id=tenant_id, user_id=reader, role="member")
        uploader = Ctx(tenant_id=tenant_id, user_id=ingester, role="member")
        await ingestion(uploader, folder, words, args.pages)
        file_ids, cents = await asyncio.to_thread(load, socket_dir, tenant_id, reader, words, rng, args)
        await searching(socket_dir, ctx, file_ids, words, rng, args)
        await asyncio.to_thread(recall, socket_dir, ctx, file_ids, cents, args)
        await upload_memory(uploader, words, folder, args.upload_mb)
    finally:
        await dispose_all()


def main() -> None:
    if len(sys.argv) == 3 and sys.argv[1] == "--serve-api":
        serve_api(int(sys.argv[2]))
        return
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # an ordinary exit: the clean-up below runs
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    for flag, default, meaning in (
        ("--chunks", 100_000, "chunks loaded for search and recall"),
        ("--files", 1_000, "files they belong to (one user's)"),
        ("--scope", 100, "files in scope of search (a) and of the scoped recall"),
        ("--queries", 100, "questions timed, and query vectors for recall"),
        ("--pages", 300, "pages of the ingested PDF"),
        ("--upload-mb", 500, "size of the streamed upload"),
        ("--noise", 0.05, "standard deviation of the noise around the centroids, per number"),
        ("--vocabulary", 6000, "distinct words (Zipf-distributed)"),
    ):
        parser.add_argument(flag, type=type(default), default=default, help=meaning)
    parser.add_argument("--quick", action="store_true", help="5,000 chunks, 200 files, 60 pages, 50 MB")
    args = parser.parse_args()
    if args.quick:
        args.chunks, args.files, args.pages, args.upload_mb, args.queries = 5_000, 200, 60, 50, 50
    args.scope = min(args.scope, args.files)
    os.chdir(ROOT)  # the ingestion job runs `python -m services.knowledge.extract_proc`
    started = time.perf_counter()
    with_fake_and_database("solo-bench-knowledge-", lambda socket_dir, folder: run(socket_dir, folder, args))
    print(f"\n(bench ran {time.perf_counter() - started:.0f} s)")


def with_fake_and_database(prefix: str, body: Callable[[Path, Path], Coroutine[Any, Any, None]]) -> None:
    """Run `body(socket_dir, folder)` with the fake embeddings server in a child process and this bench's fresh
    database pointed at it; afterwards the database is dropped and the temporary folder removed."""
    folder = Path(tempfile.mkdtemp(prefix=prefix))
    port = free_port()
    fake = subprocess.Popen(
        [sys.executable, "-c", FAKE, str(port)], cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE
    )
    socket_dir: Path | None = None
    try:
        assert fake.stdout is not None and fake.stdout.readline().strip() == b"ready"
        socket_dir = start_server()
        prepare(socket_dir, folder / "files", f"http://127.0.0.1:{port}/v1")
        asyncio.run(body(socket_dir, folder))
    finally:
        if fake.stdin is not None:
            fake.stdin.close()
        fake.wait(10)
        if socket_dir is not None:
            reset_database(socket_dir, create=False)
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
