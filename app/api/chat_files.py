"""Chat import uploads and export downloads, over plain HTTP beside the Reflex app.

`POST /api/import?name=<file name>`: the raw file as the body. Who is asking (tenant from the host, user from
the HttpOnly session cookie, same origin) is checked BEFORE any byte of the body is read; the size limit is
enforced from Content-Length and again while the body streams to a staged file. The answer is an opaque id
bound to the tenant and the user; the chat state then imports that file (`ChatIOState`).

`GET /api/export/<id>`: a prepared export of the signed-in user (single use, short-lived), streamed from disk
and deleted afterwards.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import BinaryIO

from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from app.api.guard import declared_too_large, member, problem, receive, same_origin
from services import chat
from services.chat import transfers
from services.errors import ServiceError
from services.files.storage import content_disposition

log = logging.getLogger("solo.api")

_MB = chat.MAX_IMPORT_BYTES // 2**20
TOO_LARGE = f"The file is larger than {_MB} MB: nothing was imported. Split the export or remove old chats."


async def upload_import(request: Request) -> Response:
    if not same_origin(request):
        return problem("Uploads are accepted from this workspace's own pages only.", 403)
    who = await member(request, "import or export chats")
    if isinstance(who, Response):
        return who
    refused = declared_too_large(request, chat.MAX_IMPORT_BYTES, TOO_LARGE)
    if refused is not None:
        return refused
    name = " ".join(request.query_params.get("name", "").split())[:200] or "file"
    try:
        token, path = await asyncio.to_thread(transfers.new_upload, who)
    except ServiceError as exc:
        return problem(str(exc), 429)
    partial = path.with_name(path.name + ".part")  # renamed when complete: a partial file cannot be imported
    got = await receive(request, partial, chat.MAX_IMPORT_BYTES, TOO_LARGE)
    if isinstance(got, Response):
        return got
    size, _ = got
    if size == 0:
        await asyncio.to_thread(partial.unlink, missing_ok=True)
        return problem("The file is empty: choose an export file.", 400)
    await asyncio.to_thread(partial.rename, path)
    return JSONResponse({"id": token, "name": name, "size": size})


async def download_export(request: Request) -> Response:
    who = await member(request, "import or export chats")
    if isinstance(who, Response):
        return who
    path = await asyncio.to_thread(transfers.claim_download, who, request.path_params["token"])
    if path is None:
        return problem("This download has expired or was already used. Export again.", 404)
    handle, size = await asyncio.to_thread(_open_then_discard, path)
    return StreamingResponse(
        _chunks(handle),
        media_type="application/zip" if path.suffix == ".zip" else "application/octet-stream",
        headers={
            "Content-Disposition": content_disposition(path.name),
            "Content-Length": str(size),
            "Cache-Control": "no-store",
        },
    )


def _open_then_discard(path: Path) -> tuple[BinaryIO, int]:
    """Open the prepared file and delete it at once (the open handle keeps it readable). A FileResponse
    would hand granian the path to send after the handler returned, racing a deletion after the response."""
    handle = path.open("rb")
    transfers.discard(path)
    return handle, os.fstat(handle.fileno()).st_size


async def _chunks(handle: BinaryIO) -> AsyncIterator[bytes]:
    try:
        while chunk := await asyncio.to_thread(handle.read, 256 * 1024):
            yield chunk
    finally:
        handle.close()


ROUTES = [
    Route("/api/import", upload_import, methods=["POST"]),
    Route("/api/export/{token}", download_export, methods=["GET"]),
]
