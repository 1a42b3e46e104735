"""Files and knowledge end to end below the browser: the upload and download routes over real HTTP, the
ingestion job (real worker loop, real child-process extraction), the embeddings of the fake OpenAI-compatible
server, hybrid search in the real Postgres under RLS, and isolation between users and tenants."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from services import ai_catalog
from services.files import records
from services.files.storage import get_storage
from services.jobs.queue import run_once
from services.knowledge import ingest
from services.knowledge.search import fuse, keyword_query, keyword_tiers, search
from tests.fakes.documents import EXE_BYTES, make_encrypted_pdf, make_pdf
from tests.fakes.llm_server import FakeLLMServer
from tests.services.test_chat_files_routes import client, signed_in
from tests.services.test_chat_support import sql

PAGES = [
    "Quarterly revenue grew by twelve percent, driven by coaching subscriptions in Lisbon.",
    "The onboarding checklist has five steps: welcome call, goals worksheet, first session, review, plan.",
    "Churn fell after the community forum opened; members who post weekly stay three times longer.",
]


@pytest.fixture
async def llm() -> AsyncIterator[FakeLLMServer]:
    with FakeLLMServer() as server:
        yield server


@pytest.fixture
def embeddings(llm: FakeLLMServer, monkeypatch: pytest.MonkeyPatch, loopback_allowed: None) -> FakeLLMServer:
    """The server's embeddings model: the fake's /v1/embeddings, 384 dimensions (an HNSW-indexed size)."""
    monkeypatch.setenv(
        "LLM_ENDPOINTS", f'[{{"id": "emb", "base_url": "{llm.openai_base_url}", "api_key": "k"}}]'
    )
    monkeypatch.setenv("EMBEDDINGS_PROVIDER", "emb")
    monkeypatch.setenv("EMBEDDINGS_MODEL", "fake-embed")
    monkeypatch.setenv("EMBEDDINGS_DIM", "384")
    ai_catalog._env_cache = None
    llm.configure(embedding_dim=384)
    return llm


async def drain(tenant_id: uuid.UUID) -> int:
    """Run queued jobs until none is due (the worker's loop, in the test's event loop). Jobs of other tenants,
    left behind by other tests (their blobs were in their own temporary folders), are dropped first."""
    from sqlalchemy import text

    from services.db import global_session

    async with global_session() as session:
        await session.execute(text("DELETE FROM jobs WHERE tenant_id IS DISTINCT FROM :t"), {"t": tenant_id})
    ran = 0
    while await run_once("test-worker"):
        ran += 1
    return ran


async def upload(http: httpx.AsyncClient, name: str, body: bytes) -> httpx.Response:
    return await http.post("/api/files", params={"name": name}, content=body)


async def test_upload_ingest_search_and_download(base, tenant, embeddings, tmp_path) -> None:  # type: ignore[no-untyped-def]
    ctx, token = await signed_in(tenant, "ana@example.com")
    async with client(base, tenant, token) as http:
        answer = await upload(http, "Q3 report.pdf", make_pdf(PAGES))
        assert answer.status_code == 201, answer.text
        file = answer.json()["file"]
        assert (file["kind"], file["status"], file["pages"]) == ("pdf", "processing", 3)

        # The same content again is the same file, stored once.
        again = await upload(http, "copy.pdf", make_pdf(PAGES))
        assert again.status_code == 200 and again.json()["file"]["id"] == file["id"]

        assert await drain(tenant.id) >= 1
        stored = await records.get(ctx, uuid.UUID(file["id"]))
        assert (stored.status, stored.embedded, stored.pages) == ("ready", True, 3)
        assert stored.chunk_count >= 3
        pages = await sql(
            tenant.id, "SELECT DISTINCT page FROM file_chunks WHERE file_id = :f ORDER BY 1", f=stored.id
        )
        assert [p[0] for p in pages] == [1, 2, 3]
        assert embeddings.embedding_requests(), "the chunks were embedded through /v1/embeddings"

        found = await search(ctx, "how many steps does onboarding have?", file_ids=[stored.id])
        assert not found.keyword_only
        assert found.hits[0].page == 2 and "onboarding" in found.hits[0].text
        assert "**onboarding**" in found.hits[0].snippet.lower()

        download = await http.get(f"/api/files/{file['id']}/download")
        assert download.status_code == 200
        assert download.content == make_pdf(PAGES)
        assert download.headers["content-type"].startswith("application/pdf")
        assert download.headers["x-content-type-options"] == "nosniff"
        assert "attachment" in download.headers["content-disposition"]
        assert "Q3%20report.pdf" in download.headers["content-disposition"]


async def test_on_s3_files_are_uploaded_processed_and_downloaded_by_a_short_presigned_url(  # type: ignore[no-untyped-def]
    base, tenant, embeddings, s3_server, monkeypatch
) -> None:
    """With S3_* set, the same routes and job keep the blob in the bucket (under the tenant/user/file key, never
    public), the download answers 303 to a presigned URL of at most 5 minutes, and deleting removes the object."""
    prefix = f"run-{uuid.uuid4().hex[:8]}/"
    for name, value in {**s3_server.env, "S3_PREFIX": prefix}.items():
        monkeypatch.setenv(name, value)
    from services.config import get_settings

    get_settings.cache_clear()
    ctx, token = await signed_in(tenant, "sam@example.com")
    async with client(base, tenant, token) as http:
        answer = await upload(http, "Q3 report.pdf", make_pdf(PAGES))
        assert answer.status_code == 201, answer.text
        file_id = uuid.UUID(answer.json()["file"]["id"])
        key = f"{prefix}tenant/{tenant.id}/user/{ctx.user_id}/{file_id}"
        bucket = s3_server.client()
        assert bucket.get_object(Bucket=s3_server.bucket, Key=key)["Body"].read() == make_pdf(PAGES)
        grants = bucket.get_object_acl(Bucket=s3_server.bucket, Key=key)["Grants"]
        assert [g["Permission"] for g in grants] == ["FULL_CONTROL"]  # the owner only: no public grant

        assert await drain(tenant.id) >= 1
        assert (await records.get(ctx, file_id)).status == "ready"  # extracted from the object in the bucket
        found = await search(ctx, "onboarding steps", file_ids=[file_id])
        assert found.hits and found.hits[0].page == 2

        download = await http.get(f"/api/files/{file_id}/download")
        assert download.status_code == 303 and download.headers["cache-control"] == "no-store"
        url = download.headers["location"]
        assert url.startswith(s3_server.endpoint_url) and "X-Amz-Expires=300" in url
        async with httpx.AsyncClient() as plain:
            fetched = await plain.get(url)
        assert fetched.status_code == 200 and fetched.content == make_pdf(PAGES)
        assert "attachment" in fetched.headers["content-disposition"]
        # Another user of the workspace is refused before any URL is made.
        _, other = await signed_in(tenant, "tim@example.com")
        async with client(base, tenant, other) as stranger:
            assert (await stranger.get(f"/api/files/{file_id}/download")).status_code == 404

        await records.delete_file(ctx, file_id)
        listed = bucket.list_objects_v2(Bucket=s3_server.bucket, Prefix=key)
        assert listed.get("KeyCount", 0) == 0


async def test_refused_uploads_say_why_and_store_nothing(base, tenant, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    ctx, token = await signed_in(tenant, "bo@example.com")
    async with client(base, tenant, token) as http:
        exe = await upload(http, "invoice.pdf", EXE_BYTES + b"\0" * 2048)
        assert exe.status_code == 415 and "program" in exe.text.lower()
        locked = await upload(http, "locked.pdf", make_encrypted_pdf(["secret"]))
        assert locked.status_code == 415 and "password" in locked.text.lower()
        broken = await upload(http, "broken.pdf", make_pdf(PAGES)[:300])
        assert broken.status_code == 415
        empty = await upload(http, "empty.txt", b"")
        assert empty.status_code == 400

        monkeypatch.setenv("UPLOAD_MAX_MB", "1")
        records.get_settings.cache_clear()

        async def stream() -> AsyncIterator[
            bytes
        ]:  # no Content-Length: the limit holds while the body streams
            for _ in range(40):
                yield b"a" * 65536

        big = await http.post("/api/files", params={"name": "big.txt"}, content=stream())
        assert big.status_code == 413 and "1 MB" in big.text
    assert await sql(tenant.id, "SELECT count(*) FROM files") == [(0,)]
    used = await records.usage(ctx)
    assert used.user_bytes == 0


async def test_the_session_is_checked_before_the_body(base, tenant) -> None:  # type: ignore[no-untyped-def]
    async with client(base, tenant) as http:
        answer = await upload(http, "a.txt", b"hello")
        assert answer.status_code == 401
        cross = await http.post(
            "/api/files", params={"name": "a.txt"}, content=b"x", headers={"origin": "https://evil.example"}
        )
        assert cross.status_code == 403


async def test_quota_refuses_and_delete_frees_it(base, tenant, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("STORAGE_QUOTA_USER_MB", "1")
    records.get_settings.cache_clear()
    ctx, token = await signed_in(tenant, "cy@example.com")
    async with client(base, tenant, token) as http:
        first = await upload(http, "notes.txt", b"plan " * 150_000)  # 750 kB
        assert first.status_code == 201
        second = await upload(http, "more.txt", b"more " * 100_000)  # 500 kB: over 1 MB in all
        assert second.status_code == 422 and "storage is full" in second.text.lower()
        file_id = uuid.UUID(first.json()["file"]["id"])
        _, key = await records.blob(ctx, file_id)
        await drain(tenant.id)
        await records.delete_file(ctx, file_id)
        assert await get_storage().size(key) is None
        assert await sql(tenant.id, "SELECT count(*) FROM file_chunks WHERE file_id = :f", f=file_id) == [
            (0,)
        ]
        assert (await records.usage(ctx)).user_bytes == 0
        assert (await upload(http, "more.txt", b"more " * 100_000)).status_code == 201


async def test_other_users_and_tenants_see_nothing(base, tenant, other_tenant) -> None:  # type: ignore[no-untyped-def]
    ana, ana_token = await signed_in(tenant, "ana@example.com")
    eve, eve_token = await signed_in(tenant, "eve@example.com")
    mallory, mallory_token = await signed_in(other_tenant, "mallory@example.com")
    async with client(base, tenant, ana_token) as http:
        file_id = (await upload(http, "private.txt", b"the vault code is 4417")).json()["file"]["id"]
    await drain(tenant.id)
    fid = uuid.UUID(file_id)
    # Through the service...
    with pytest.raises(records.NotFound):
        await records.get(eve, fid)
    with pytest.raises(records.NotFound):
        await records.get(mallory, fid)
    assert (await records.list_files(eve))[0] == []
    # ...search (keyword-only here: no embeddings model)...
    assert (await search(ana, "vault code", file_ids=[fid])).hits
    assert (await search(eve, "vault code", file_ids=[fid])).hits == []
    assert (await search(mallory, "vault code", file_ids=[fid])).hits == []
    # ...and the download route, in the same tenant and from another tenant's host.
    async with client(base, tenant, eve_token) as http:
        assert (await http.get(f"/api/files/{file_id}/download")).status_code == 404
    async with client(base, other_tenant, mallory_token) as http:
        assert (await http.get(f"/api/files/{file_id}/download")).status_code == 404
    # Row-level security alone (no user filter): another tenant's session sees no row of it.
    assert await sql(other_tenant.id, "SELECT count(*) FROM files WHERE id = :f", f=fid) == [(0,)]
    assert await sql(other_tenant.id, "SELECT count(*) FROM file_chunks WHERE file_id = :f", f=fid) == [(0,)]


async def test_ingestion_resumes_after_a_stop_mid_embedding(base, tenant, embeddings) -> None:  # type: ignore[no-untyped-def]
    """A server stopped after the chunks were stored but before all were embedded: the job runs again (its
    lease expired) and embeds only what is missing."""
    ctx, token = await signed_in(tenant, "di@example.com")
    async with client(base, tenant, token) as http:
        file_id = uuid.UUID((await upload(http, "plan.pdf", make_pdf(PAGES))).json()["file"]["id"])
    await drain(tenant.id)
    await sql(
        tenant.id,
        "UPDATE file_chunks SET embedding = NULL, embedding_dim = NULL WHERE file_id = :f AND ordinal > 0",
        f=file_id,
    )
    await sql(
        tenant.id, "UPDATE files SET status = 'processing', stage = 'embedding' WHERE id = :f", f=file_id
    )
    before = len(embeddings.embedding_requests())
    job = ingest.Job(
        id=0,
        kind=ingest.KIND,
        tenant_id=tenant.id,
        user_id=ctx.user_id,
        payload={"file_id": str(file_id)},
        attempts=1,
    )
    await ingest.run(job)
    assert (await records.get(ctx, file_id)).status == "ready"
    texts = [t for r in embeddings.embedding_requests()[before:] for t in r.body["input"]]
    missing = await sql(
        tenant.id, "SELECT count(*) FROM file_chunks WHERE file_id = :f AND ordinal > 0", f=file_id
    )
    assert len(texts) == missing[0][0], "only the chunks without an embedding were embedded again"


def test_keyword_query_tiers_and_fusion() -> None:
    assert keyword_query("What does the Q3 report say about churn?") == "'q3' | 'report' | 'churn'"
    assert keyword_tiers("What does the Q3 report say about churn?") == [
        "'q3' & 'report' & 'churn'",
        "('report' & 'churn') | ('report' & 'q3') | ('churn' & 'q3')",
        "'q3' | 'report' | 'churn'",
    ]
    assert keyword_tiers("churn?") == ["'churn'"]
    assert keyword_tiers("the of") == []
    assert keyword_query("the of and") == ""
    a, b, c = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    # b is second in both lists (2/62) and beats a and c, each first in one list only (1/61).
    fused = fuse([(a, 1), (b, 2), (b, 2), (c, 1)], 3)
    assert fused[0][0] == b and {x for x, _ in fused[1:]} == {a, c}
    assert [x for x, _ in fuse([(a, 1), (b, 2), (c, 3)], 2)] == [a, b]


async def _explain(conn: Any, statement: str, params: tuple[Any, ...]) -> str:
    rows = await (await conn.execute("EXPLAIN " + statement, params)).fetchall()
    return "\n".join(r[0] for r in rows)


async def test_the_matcher_uses_the_gin_and_hnsw_indexes(owner_conn, app_conn, tenant) -> None:  # type: ignore[no-untyped-def]
    """What knowledge_matches runs (as its owner, SECURITY DEFINER) can use the GIN index and the size's HNSW
    index; the same text match as the app role under FORCE RLS cannot use the GIN index (the reason for it)."""
    match = "SELECT id FROM file_chunks WHERE search @@ to_tsquery('simple', 'churn')"
    await owner_conn.execute("SET enable_seqscan = off")
    assert "ix_file_chunks_search" in (plan := await _explain(owner_conn, match, ())), plan
    vector = "[" + ",".join(["0.1"] * 384) + "]"
    nearest = await _explain(
        owner_conn,
        "SELECT id FROM file_chunks WHERE embedding_dim = 384 "
        "ORDER BY (embedding::vector(384)) <=> %s::vector(384) LIMIT 10",
        (vector,),
    )
    assert "ix_file_chunks_embedding_384" in nearest, nearest
    async with app_conn.transaction():
        await app_conn.execute("SET LOCAL enable_seqscan = off")
        await app_conn.execute("SELECT set_config('app.current_tenant_id', %s, true)", (str(tenant.id),))
        under_rls = await _explain(app_conn, match, ())
    assert "ix_file_chunks_search" not in under_rls, under_rls


async def _chunks(
    tenant_id: uuid.UUID, user_id: uuid.UUID, texts: list[str]
) -> tuple[uuid.UUID, list[uuid.UUID]]:
    """One ready file of `texts` as its chunks, written straight to the tables (as the app role, under RLS)."""
    file_id = uuid.uuid4()
    await sql(
        tenant_id,
        "INSERT INTO files (id, tenant_id, user_id, name, kind, mime, size_bytes, sha256, storage_key, status, "
        "created_at, updated_at) VALUES (:f, :t, :u, 'notes.txt', 'txt', 'text/plain', 1, :h, 'k', 'ready', "
        "now(), now())",
        f=file_id, t=tenant_id, u=user_id, h=uuid.uuid4().hex,
    )  # fmt: skip
    ids = [uuid.uuid4() for _ in texts]
    for ordinal, (chunk_id, body) in enumerate(zip(ids, texts, strict=True)):
        await sql(
            tenant_id,
            "INSERT INTO file_chunks (id, tenant_id, file_id, user_id, ordinal, text, tokens) "
            "VALUES (:c, :t, :f, :u, :o, :x, 10)",
            c=chunk_id, t=tenant_id, f=file_id, u=user_id, o=ordinal, x=body,
        )  # fmt: skip
    return file_id, ids


async def test_chunks_with_every_word_come_before_chunks_with_one(base, tenant) -> None:  # type: ignore[no-untyped-def]
    """The keyword tiers: a chunk holding every word of the question comes first, then one holding two of them,
    even when many chunks repeat one of the words more often (which ts_rank over an OR alone would put first)."""
    ctx, _ = await signed_in(tenant, "tiers@example.com")
    noise = [f"Pricing pricing pricing pricing, note {i}: pricing again." for i in range(60)]
    texts = [*noise, "Our pricing for the retreat in Porto is listed here.", "The Porto pricing sheet."]
    file_id, ids = await _chunks(tenant.id, ctx.user_id, texts)
    found = await search(ctx, "What is the pricing of the Porto retreat?", file_ids=[file_id], k=5)
    assert found.keyword_only
    assert [h.chunk_id for h in found.hits[:2]] == [ids[-2], ids[-1]], [h.text for h in found.hits]
    assert all(h.chunk_id in ids[:60] for h in found.hits[2:])
    assert "**Porto**" in found.hits[0].snippet
