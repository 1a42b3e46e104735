"""Ingestion of an uploaded file, as a durable job: extract -> chunk -> store -> embed -> ready.

The job carries the tenant and the file id and opens its own tenant sessions; it is safe to run twice:
- a file already ready, or deleted meanwhile, is left alone;
- extraction and chunking write the sections and chunks of the file in one transaction (replacing any
  earlier ones), so a job killed before that commit starts over, and one killed after it goes straight on to
  the embeddings;
- embedding fills the chunks that have none yet, batch by batch, each batch committed: a restart resumes
  where it stopped.
Text extraction runs in a child process (`extract_proc`) with a time and a memory limit: a malicious or broken
document cannot hang or exhaust the server. No database session is held while a model (embeddings) is asked.
A step that fails for good records its reason on the file (`failed`), which the Files page shows with Retry.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import sys
import tempfile
import uuid
from pathlib import Path

from sqlalchemy import delete, select, text, update
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from models import FileChunk, FileSection, StoredFile
from models.base import utcnow
from services.auth.roles import require
from services.context import Ctx
from services.db import tenant_session
from services.errors import NotFound, ValidationError
from services.files import records
from services.files.sniff import IMAGE_KINDS
from services.files.storage import get_storage
from services.jobs.queue import Job, Permanent, Retry, enqueue, handler, on_failed
from services.knowledge.chunk import chunk
from services.knowledge.embed import EmbeddingError, embed, embeddings_config
from services.knowledge.extract import Section

log = logging.getLogger("solo.knowledge")

KIND = "ingest_file"
EXTRACT_SECONDS = 120  # a document that takes longer to read is refused
EXTRACT_MEMORY = 1536 * 1024 * 1024  # address space of the extracting process
EMBED_BATCH = 64


async def queue(session: AsyncSession, row: StoredFile) -> None:
    """Queue the ingestion of a new file, inside the transaction that creates it."""
    await enqueue(
        KIND,
        {"file_id": str(row.id)},
        tenant_id=row.tenant_id,
        user_id=row.user_id,
        dedupe_key=f"{KIND}:{row.id}",
        session=session,
    )


async def retry(ctx: Ctx, file_id: uuid.UUID) -> None:
    """The Files page's Retry: a failed file of the user is processed again from the start."""
    require(ctx, "workspace.use")
    async with tenant_session(ctx.tenant_id) as session:
        row = (
            await session.execute(
                select(StoredFile).where(
                    col(StoredFile.id) == file_id, col(StoredFile.user_id) == ctx.user_id
                )
            )
        ).scalar_one_or_none()
        if row is None:
            raise NotFound(records.FILE_NOT_FOUND)
        if row.status != "failed":
            raise ValidationError("This file is not failed: there is nothing to retry.")
        row.status, row.stage, row.progress, row.error_text, row.updated_at = (
            "processing",
            "queued",
            0,
            "",
            utcnow(),
        )
        session.add(row)
        await queue(session, row)


async def reembed_all(tenant_id: uuid.UUID) -> int:
    """After the workspace's embeddings model changed: every ready document is embedded again with the new one,
    in the background (its text and chunks are kept; until its job runs it is searched by keywords). The number
    of files queued."""
    if await embeddings_config(tenant_id) is None:
        return 0
    async with tenant_session(tenant_id) as session:
        rows = list(
            (
                await session.execute(
                    select(StoredFile).where(
                        col(StoredFile.status) == "ready",
                        col(StoredFile.chunk_count) > 0,
                        col(StoredFile.kind).not_in(sorted(IMAGE_KINDS)),
                    )
                )
            ).scalars()
        )
        if not rows:
            return 0
        await session.execute(
            text(
                "UPDATE file_chunks SET embedding = NULL, embedding_dim = NULL "
                "WHERE file_id = ANY(CAST(:ids AS uuid[])) AND embedding IS NOT NULL"
            ),
            {"ids": [r.id for r in rows]},
        )
        for row in rows:
            row.status, row.stage, row.progress, row.embedded, row.updated_at = (
                "processing", "embedding", 50, False, utcnow(),
            )  # fmt: skip
            session.add(row)
            await queue(session, row)
    return len(rows)


async def _extract(path: Path, kind: str) -> list[Section]:
    """Run the extractor in a child process with limits; its stdout is the sections as JSON lines."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "services.knowledge.extract_proc",
        str(path),
        kind,
        str(EXTRACT_MEMORY),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
    )
    try:
        out, err = await asyncio.wait_for(process.communicate(), EXTRACT_SECONDS)
    except TimeoutError:
        process.kill()
        await process.wait()
        raise Permanent(
            f"Reading this file took longer than {EXTRACT_SECONDS} s: it was stopped. "
            "Split the document or save it in a simpler format."
        ) from None
    if process.returncode == 3:
        raise Permanent(err.decode("utf-8", "replace").strip() or "The file could not be read.")
    if process.returncode != 0:
        log.error("extracting a %s failed (exit %s): %s", kind, process.returncode, err[-2000:])
        raise Permanent(
            "The file could not be read (it may be damaged, or too large to read within the server's memory limit)."
        )
    sections: list[Section] = []
    for line in out.splitlines():
        item = json.loads(line)
        sections.append(Section(item["text"], item.get("page"), item.get("heading")))
    return sections


async def _download(key: str, into: Path) -> None:
    storage = get_storage()
    with into.open("wb") as handle:
        async for block in storage.open(key):
            await asyncio.to_thread(handle.write, block)


async def _store_text(tenant_id: uuid.UUID, row: StoredFile, sections: list[Section]) -> int:
    """Write sections and chunks of the file in one transaction (replacing earlier ones); the chunk count."""
    chunks = chunk(sections)
    if not chunks:
        raise Permanent("The file has no text to read.")
    async with tenant_session(tenant_id) as session:
        still_there = (
            await session.execute(
                select(col(StoredFile.id)).where(col(StoredFile.id) == row.id).with_for_update()
            )
        ).scalar_one_or_none()
        if still_there is None:
            return 0
        await session.execute(delete(FileChunk).where(col(FileChunk.file_id) == row.id))
        await session.execute(delete(FileSection).where(col(FileSection.file_id) == row.id))
        session.add_all(
            [
                FileSection(
                    tenant_id=tenant_id,
                    file_id=row.id,
                    ordinal=i,
                    page=s.page,
                    heading=(s.heading or "")[:300],
                    text=s.text,
                )
                for i, s in enumerate(sections)
            ]
        )
        session.add_all(
            [
                FileChunk(
                    tenant_id=tenant_id,
                    file_id=row.id,
                    user_id=row.user_id,
                    ordinal=c.ordinal,
                    page=c.page,
                    heading=(c.heading or "")[:300],
                    tokens=c.tokens,
                    text=c.text,
                )
                for c in chunks
            ]
        )
        pages = max((s.page or 0 for s in sections), default=0) or row.pages
        await session.execute(
            update(StoredFile)
            .where(col(StoredFile.id) == row.id)
            .values(
                chunk_count=len(chunks),
                tokens=sum(c.tokens for c in chunks),
                pages=pages,
                stage="embedding",
                progress=50,
                updated_at=utcnow(),
            )
        )
    return len(chunks)


def vector_literal(values: list[float]) -> str:
    return "[" + ",".join(f"{v:.7g}" for v in values) + "]"


async def _embed_chunks(tenant_id: uuid.UUID, file_id: uuid.UUID, total: int) -> str:
    """Embed the chunks that have no embedding yet, batch by batch; the model used ("" without one)."""
    cfg = await embeddings_config(tenant_id)
    if cfg is None:
        return ""
    while True:
        async with tenant_session(tenant_id) as session:
            batch = (
                await session.execute(
                    text(
                        "SELECT id, heading, text FROM file_chunks WHERE file_id = :f AND embedding IS NULL "
                        "ORDER BY ordinal LIMIT :n"
                    ),
                    {"f": file_id, "n": EMBED_BATCH},
                )
            ).all()
            done = (
                await session.execute(
                    text("SELECT count(*) FROM file_chunks WHERE file_id = :f AND embedding IS NOT NULL"),
                    {"f": file_id},
                )
            ).scalar_one()
        if not batch:
            return cfg.model
        await records.set_progress(tenant_id, file_id, progress=50 + int(50 * done / max(total, 1)))
        try:
            vectors = await embed(cfg, [f"{h}\n{t}" if h else t for _, h, t in batch], batch=EMBED_BATCH)
        except EmbeddingError as exc:
            raise (Retry(str(exc)) if exc.retryable else Permanent(str(exc))) from exc
        async with tenant_session(tenant_id) as session:
            await session.execute(
                text(
                    "UPDATE file_chunks AS fc SET embedding = v.e::vector, embedding_dim = :d "
                    "FROM unnest(CAST(:ids AS uuid[]), CAST(:vecs AS text[])) AS v(id, e) WHERE fc.id = v.id"
                ),
                {
                    "ids": [r[0] for r in batch],
                    "vecs": [vector_literal(v) for v in vectors],
                    "d": len(vectors[0]),
                },
            )


@handler(KIND)
async def run(job: Job) -> None:
    tenant_id = job.tenant_id
    if tenant_id is None:
        raise Permanent("An ingestion job without a tenant.")
    file_id = uuid.UUID(str(job.payload["file_id"]))
    async with tenant_session(tenant_id) as session:
        row = await session.get(StoredFile, file_id)
    if row is None or row.status == "ready":
        return  # deleted meanwhile, or already done (the job ran twice)
    if row.kind in IMAGE_KINDS:
        await records.set_progress(tenant_id, file_id, status="ready", stage="", progress=100, error_text="")
        return
    total = row.chunk_count
    if row.stage != "embedding" or total == 0:
        await records.set_progress(tenant_id, file_id, status="processing", stage="extracting", progress=5)
        with tempfile.TemporaryDirectory(prefix="solo-ingest-") as folder:
            path = Path(folder) / "file"
            await _download(row.storage_key, path)
            sections = await _extract(path, row.kind)
        await records.set_progress(tenant_id, file_id, stage="chunking", progress=40)
        total = await _store_text(tenant_id, row, sections)
        if total == 0:
            return  # the file was deleted while it was read
    model = await _embed_chunks(tenant_id, file_id, total)
    await records.set_progress(
        tenant_id,
        file_id,
        status="ready",
        stage="",
        progress=100,
        error_text="",
        embedded=bool(model),
        embeddings_model=model,
    )


@on_failed(KIND)
async def failed(job: Job, error: str) -> None:
    if job.tenant_id is None:
        return
    file_id = uuid.UUID(str(job.payload["file_id"]))
    await records.set_progress(job.tenant_id, file_id, status="failed", error_text=error[:1000])
