"""A member's files: register an upload, list, rename, delete, quotas, and who may read which file.

Every query runs in `tenant_session(ctx.tenant_id)` (row-level security) and is scoped to the user as well: a
member reads their own files, and the files in the tenant's shared collections; anything else is "not found",
never "forbidden", so ids leak nothing. Deleting a file removes its blob, its sections and chunks (cascade), and
unlinks the citations and attachments that pointed at it (SET NULL: the message still names it); its bytes stop
counting against the quotas at once.
"""

from __future__ import annotations

import hashlib
import logging
import uuid
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import delete, func, or_, select, text, update
from sqlmodel import col

from models import Collection, CollectionFile, FileSection, StoredFile, Tenant
from models.base import utcnow
from services.auth.roles import require
from services.billing import entitlements
from services.config import get_settings
from services.context import Ctx
from services.db import global_session, tenant_session
from services.errors import NotFound, ValidationError
from services.files import sniff
from services.files.storage import get_storage, object_key

log = logging.getLogger("solo.files")

FILE_NOT_FOUND = "That file does not exist (it may have been deleted)."
MB = 1024 * 1024
PAGE = 50
SORTS = {
    "recent": (col(StoredFile.created_at).desc(), col(StoredFile.id).desc()),
    "oldest": (col(StoredFile.created_at).asc(), col(StoredFile.id).asc()),
    "name": (func.lower(col(StoredFile.name)).asc(), col(StoredFile.id).asc()),
    "size": (col(StoredFile.size_bytes).desc(), col(StoredFile.id).desc()),
}


@dataclass(frozen=True, slots=True)
class FileInfo:
    id: uuid.UUID
    user_id: uuid.UUID
    name: str
    kind: str
    label: str  # "PDF", "Word document"...
    mime: str
    size_bytes: int
    status: str  # uploading | processing | ready | failed
    stage: str
    progress: int
    error_text: str
    pages: int | None
    chunk_count: int
    embedded: bool
    created_at: datetime
    mine: bool  # uploaded by the asking user (else readable through a shared collection)


@dataclass(frozen=True, slots=True)
class Usage:
    user_bytes: int
    user_quota: int
    tenant_bytes: int
    tenant_quota: int


def _label(kind: str) -> str:
    found = sniff.KINDS.get(kind)
    return found.label if found is not None else kind.upper()


def info(row: StoredFile, ctx: Ctx) -> FileInfo:
    return FileInfo(
        id=row.id,
        user_id=row.user_id,
        name=row.name,
        kind=row.kind,
        label=_label(row.kind),
        mime=row.mime,
        size_bytes=row.size_bytes,
        status=row.status,
        stage=row.stage,
        progress=row.progress,
        error_text=row.error_text,
        pages=row.pages,
        chunk_count=row.chunk_count,
        embedded=row.embedded,
        created_at=row.created_at,
        mine=row.user_id == ctx.user_id,
    )


def _readable(ctx: Ctx) -> Any:
    """The files the asking user may read: their own, or those in one of the tenant's shared collections."""
    shared = (
        select(col(CollectionFile.file_id))
        .join(Collection, col(Collection.id) == col(CollectionFile.collection_id))
        .where(col(Collection.owner_id).is_(None))
    )
    return or_(col(StoredFile.user_id) == ctx.user_id, col(StoredFile.id).in_(shared))


async def tenant_quota_bytes(tenant_id: uuid.UUID) -> int:
    """The server's tenant quota, or the lower one the tenant's admins set."""
    settings = get_settings()
    quota = settings.storage_quota_tenant_mb * MB
    async with global_session() as session:
        tenant = await session.get(Tenant, tenant_id)
    own = ((tenant.config or {}).get("storage") or {}).get("quota_mb") if tenant is not None else None
    if isinstance(own, int) and 0 < own * MB < quota:
        quota = own * MB
    return quota


async def usage(ctx: Ctx) -> Usage:
    require(ctx, "workspace.use")
    async with tenant_session(ctx.tenant_id) as session:
        used = await session.execute(
            select(
                func.coalesce(
                    func.sum(StoredFile.size_bytes).filter(col(StoredFile.user_id) == ctx.user_id), 0
                ),
                func.coalesce(func.sum(StoredFile.size_bytes), 0),
            )
        )
        user_bytes, tenant_bytes = used.one()
    return Usage(
        int(user_bytes),
        get_settings().storage_quota_user_mb * MB,
        int(tenant_bytes),
        await tenant_quota_bytes(ctx.tenant_id),
    )


async def set_tenant_quota(ctx: Ctx, quota_mb: int | None) -> None:
    """Admins may lower their workspace's storage quota below the server's (None: back to the server's)."""
    require(ctx, "tenant.brand")
    limit = get_settings().storage_quota_tenant_mb
    if quota_mb is not None and not 1 <= quota_mb <= limit:
        raise ValidationError(f"The storage quota must be between 1 and {limit} MB (the server's limit).")
    async with global_session() as session:
        tenant = await session.get(Tenant, ctx.tenant_id, with_for_update=True)
        if tenant is None:
            raise NotFound("This workspace no longer exists.")
        config = dict(tenant.config or {})
        storage = dict(config.get("storage") or {})
        storage.pop("quota_mb", None)
        if quota_mb is not None:
            storage["quota_mb"] = quota_mb
        config["storage"] = storage
        tenant.config = config
        session.add(tenant)


def sha256_of(path: Path) -> str:
    """Sync: called in a thread."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(1024 * 1024):
            digest.update(block)
    return digest.hexdigest()


@dataclass(frozen=True, slots=True)
class Registered:
    file: FileInfo
    new: bool  # False: the same content was already stored for this user (nothing new was stored)


async def register(
    ctx: Ctx, staged: Path, raw_name: str, size: int, digest: str, found: sniff.Detected
) -> Registered:
    """Store a staged, validated upload: quota checked, blob put, row created with status "processing" and its
    ingestion job queued in the same transaction. The same content twice is one file (the existing one)."""
    require(ctx, "workspace.use")
    name = sniff.display_name(raw_name)
    async with tenant_session(ctx.tenant_id) as session:
        existing = (
            await session.exec(
                select(StoredFile).where(
                    col(StoredFile.user_id) == ctx.user_id, col(StoredFile.sha256) == digest
                )
            )  # type: ignore[call-overload]
        ).scalar_one_or_none()
        if existing is not None:
            return Registered(info(existing, ctx), False)
    quota = await usage(ctx)
    if quota.user_bytes + size > quota.user_quota:
        raise ValidationError(
            f"Your storage is full ({quota.user_bytes / MB:.0f} of {quota.user_quota / MB:.0f} MB used): "
            "delete files you no longer need, then upload again."
        )
    if quota.tenant_bytes + size > quota.tenant_quota:
        raise ValidationError(
            "This workspace's storage is full: ask an admin to free space or raise the quota, then upload again."
        )
    plan = await entitlements.may_store(ctx, quota.user_bytes, size)
    if not plan.allowed:
        raise ValidationError(plan.reason)
    file_id = uuid.uuid4()
    key = object_key(ctx.tenant_id, ctx.user_id, file_id)
    storage = get_storage()
    await storage.put(key, staged)
    now = utcnow()
    row = StoredFile(
        id=file_id,
        tenant_id=ctx.tenant_id,
        user_id=ctx.user_id,
        name=name,
        kind=found.kind,
        mime=found.mime,
        size_bytes=size,
        sha256=digest,
        storage_key=key,
        status="processing",
        stage="queued",
        pages=found.pages,
        width=found.width,
        height=found.height,
        created_at=now,
        updated_at=now,
    )
    from services.knowledge import ingest  # the job module registers its handler; imported late (cycle)

    try:
        async with tenant_session(ctx.tenant_id) as session:
            session.add(row)
            await session.flush()
            await ingest.queue(session, row)
    except Exception:
        await storage.delete(key)  # no row, no blob
        raise
    return Registered(info(row, ctx), True)


async def get(ctx: Ctx, file_id: uuid.UUID) -> FileInfo:
    require(ctx, "workspace.use")
    async with tenant_session(ctx.tenant_id) as session:
        row = (
            await session.execute(select(StoredFile).where(col(StoredFile.id) == file_id, _readable(ctx)))
        ).scalar_one_or_none()
    if row is None:
        raise NotFound(FILE_NOT_FOUND)
    return info(row, ctx)


async def blob(ctx: Ctx, file_id: uuid.UUID) -> tuple[FileInfo, str]:
    """The file and its storage key, for a download (after the same check as `get`)."""
    require(ctx, "workspace.use")
    async with tenant_session(ctx.tenant_id) as session:
        row = (
            await session.execute(select(StoredFile).where(col(StoredFile.id) == file_id, _readable(ctx)))
        ).scalar_one_or_none()
    if row is None:
        raise NotFound(FILE_NOT_FOUND)
    return info(row, ctx), row.storage_key


async def list_files(
    ctx: Ctx,
    *,
    query: str = "",
    kind: str = "",
    collection_id: uuid.UUID | None = None,
    status: str = "",
    sort: str = "recent",
    offset: int = 0,
    limit: int = PAGE,
) -> tuple[list[FileInfo], bool]:
    """The files the user may read, filtered and sorted; (page, more)."""
    require(ctx, "workspace.use")
    limit = max(1, min(limit, 200))
    statement = select(StoredFile).where(_readable(ctx))
    if query.strip():
        pattern = "%" + query.strip().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        statement = statement.where(col(StoredFile.name).ilike(pattern, escape="\\"))
    if kind:
        statement = statement.where(col(StoredFile.kind) == kind)
    if status:
        statement = statement.where(col(StoredFile.status) == status)
    if collection_id is not None:
        statement = statement.where(
            col(StoredFile.id).in_(
                select(col(CollectionFile.file_id)).where(col(CollectionFile.collection_id) == collection_id)
            )
        )
    statement = statement.order_by(*SORTS.get(sort, SORTS["recent"])).offset(max(0, offset)).limit(limit + 1)
    async with tenant_session(ctx.tenant_id) as session:
        rows = list((await session.execute(statement)).scalars().all())
    return [info(r, ctx) for r in rows[:limit]], len(rows) > limit


async def rename(ctx: Ctx, file_id: uuid.UUID, new_name: str) -> FileInfo:
    require(ctx, "workspace.use")
    name = sniff.display_name(new_name)
    if not new_name.strip():
        raise ValidationError("Enter a name for the file.")
    async with tenant_session(ctx.tenant_id) as session:
        row = (
            await session.execute(
                select(StoredFile).where(
                    col(StoredFile.id) == file_id, col(StoredFile.user_id) == ctx.user_id
                )
            )
        ).scalar_one_or_none()
        if row is None:
            raise NotFound(FILE_NOT_FOUND)
        row.name, row.updated_at = name, utcnow()
        session.add(row)
    return info(row, ctx)


# The messages that attach or cite a file keep its name, page and snippet, and lose the link (parts rewritten in
# order); found through the indexes of message_files and message_citations, never by scanning messages.
UNLINK = text(
    """
    UPDATE messages m SET content_parts = (
        SELECT coalesce(jsonb_agg(CASE WHEN e.p ->> 'file_id' = :name
                                       THEN e.p || '{"file_id": null, "chunk_id": null}'::jsonb ELSE e.p END
                                  ORDER BY e.i), '[]'::jsonb)
        FROM jsonb_array_elements(m.content_parts) WITH ORDINALITY AS e(p, i))
    WHERE m.id IN (SELECT message_id FROM message_files WHERE file_id = :f
                   UNION SELECT message_id FROM message_citations WHERE file_id = :f)
      AND EXISTS (SELECT 1 FROM files WHERE id = :f AND user_id = :u)
    """
)


async def delete_file(ctx: Ctx, file_id: uuid.UUID) -> None:
    """Only the uploader deletes a file (an admin removes a shared one from its collection instead)."""
    require(ctx, "workspace.use")
    async with tenant_session(ctx.tenant_id) as session:
        await session.execute(UNLINK, {"name": str(file_id), "f": file_id, "u": ctx.user_id})
        key = (
            await session.execute(
                delete(StoredFile)
                .where(col(StoredFile.id) == file_id, col(StoredFile.user_id) == ctx.user_id)
                .returning(col(StoredFile.storage_key))
            )
        ).scalar_one_or_none()
    if key is None:
        raise NotFound(FILE_NOT_FOUND)
    try:
        await get_storage().delete(key)
    except Exception:  # the row is gone (quota freed); an orphan blob is logged for the operator
        log.exception("could not delete the blob %s of a deleted file", key)


async def sections(ctx: Ctx, file_id: uuid.UUID) -> list[FileSection]:
    """The extracted text in document order, for the preview (checked like `get`)."""
    await get(ctx, file_id)
    async with tenant_session(ctx.tenant_id) as session:
        rows = await session.execute(
            select(FileSection).where(col(FileSection.file_id) == file_id).order_by(col(FileSection.ordinal))
        )
        return list(rows.scalars().all())


async def readable_ids(ctx: Ctx, ids: list[uuid.UUID]) -> list[uuid.UUID]:
    """Those of `ids` the user may read, in the given order (others dropped silently)."""
    if not ids:
        return []
    async with tenant_session(ctx.tenant_id) as session:
        found = set(
            (
                await session.execute(
                    select(col(StoredFile.id)).where(col(StoredFile.id).in_(ids), _readable(ctx))
                )
            ).scalars()
        )
    return [i for i in ids if i in found]


async def set_progress(
    tenant_id: uuid.UUID, file_id: uuid.UUID, *, status: str | None = None, **fields: Any
) -> None:
    """Processing reports where it is (a short transaction of its own: the Files page polls these)."""
    values = dict(fields, updated_at=utcnow())
    if status is not None:
        values["status"] = status
    async with tenant_session(tenant_id) as session:
        await session.execute(update(StoredFile).where(col(StoredFile.id) == file_id).values(**values))
