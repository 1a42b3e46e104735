"""File uploads and downloads of the knowledge base (the Files page and the chat composer).

`POST /api/files?name=<file name>`: the raw file as the body. The session is checked before the body is read;
the size limit (`UPLOAD_MAX_MB`) from Content-Length and again while the body streams to a staged file. The type
is decided from the content (`services.files.sniff`), then quotas, then the blob is stored and its ingestion
queued. Answers `{"file": {...}}` (201, or 200 when the same content was already stored), or a plain-text reason
(413 too large, 415 refused type, 422 quota, 401/403/404 who is asking) and nothing is stored.

`GET /api/files/<id>/download[?inline=1]`: after the same check as every file read, a presigned URL of at most
5 minutes (S3) or the blob streamed by us; `Content-Disposition` with the sanitised name, the type decided at
upload, `X-Content-Type-Options: nosniff`. Only images are ever served inline (previews, thumbnails).
"""

from __future__ import annotations

import asyncio
import logging
import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response, StreamingResponse
from starlette.routing import Route

from app.api.guard import declared_too_large, member, problem, receive, same_origin
from services.config import get_settings
from services.errors import NotFound, ServiceError
from services.files import records, sniff
from services.files.storage import content_disposition, get_storage

log = logging.getLogger("solo.api")


def _limit() -> int:
    return get_settings().upload_max_mb * 1024 * 1024


def too_large() -> str:
    return f"The file is larger than {get_settings().upload_max_mb} MB, the upload limit: nothing was stored."


def file_json(f: records.FileInfo) -> dict[str, Any]:
    return {
        "id": str(f.id),
        "name": f.name,
        "kind": f.kind,
        "label": f.label,
        "size": f.size_bytes,
        "status": f.status,
        "error": f.error_text,
        "pages": f.pages,
    }


def staging() -> Path:
    folder = get_settings().solo_data_dir / "staging"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


async def upload_file(request: Request) -> Response:
    if not same_origin(request):
        return problem("Uploads are accepted from this workspace's own pages only.", 403)
    who = await member(request, "upload files")
    if isinstance(who, Response):
        return who
    refused = declared_too_large(request, _limit(), too_large())
    if refused is not None:
        return refused
    raw_name = request.query_params.get("name", "")
    folder = Path(await asyncio.to_thread(tempfile.mkdtemp, prefix="upload-", dir=staging()))
    try:
        staged = folder / "body"
        got = await receive(request, staged, _limit(), too_large())
        if isinstance(got, Response):
            return got
        size, digest = got
        if size == 0:
            return problem("The file is empty: nothing was stored.", 400)
        try:
            found = await asyncio.to_thread(sniff.detect, staged, raw_name)
        except sniff.Refused as exc:
            return problem(str(exc), 415)
        try:
            done = await records.register(who, staged, raw_name, size, digest, found)
        except ServiceError as exc:
            return problem(str(exc), 422)
        return JSONResponse(
            {"file": file_json(done.file), "new": done.new}, status_code=201 if done.new else 200
        )
    finally:
        await asyncio.to_thread(shutil.rmtree, folder, True)


def _disposition(name: str, inline: bool) -> str:
    value = content_disposition(name)
    return "inline" + value.removeprefix("attachment") if inline else value


async def download_file(request: Request) -> Response:
    who = await member(request, "download files")
    if isinstance(who, Response):
        return who
    try:
        file_id = uuid.UUID(request.path_params["file_id"])
        found, key = await records.blob(who, file_id)
    except (ValueError, NotFound):
        return problem(records.FILE_NOT_FOUND, 404)
    inline = request.query_params.get("inline") == "1" and found.kind in sniff.IMAGE_KINDS
    storage = get_storage()
    url = await storage.presign(key, filename=found.name, mime=found.mime, seconds=300)
    if url is not None and not inline:
        return RedirectResponse(url, status_code=303, headers={"Cache-Control": "no-store"})
    size = await storage.size(key)
    if size is None:
        log.error("the blob %s of file %s is missing", key, found.id)
        return problem("The file's content is missing from storage. Tell your admin.", 410)

    async def body() -> AsyncIterator[bytes]:
        async for block in storage.open(key):
            yield block

    return StreamingResponse(
        body(),
        media_type=found.mime,
        headers={
            "Content-Disposition": _disposition(found.name, inline),
            "Content-Length": str(size),
            "X-Content-Type-Options": "nosniff",
            "Cache-Control": "private, no-store",
            "Content-Security-Policy": "default-src 'none'; sandbox",
        },
    )


ROUTES = [
    Route("/api/files", upload_file, methods=["POST"]),
    Route("/api/files/{file_id}/download", download_file, methods=["GET"]),
]
