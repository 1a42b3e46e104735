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
from typing import IO, BinaryIO
from urllib.parse import urlsplit

from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse
from starlette.routing import Route

from services import chat, tenants, web
from services.auth import accounts, roles
from services.chat import transfers
from services.context import Ctx
from services.errors import ServiceError
from state.request import parse_cookie

log = logging.getLogger("solo.api")

_FLUSH = 1024 * 1024  # bytes buffered before each write to disk
_MB = chat.MAX_IMPORT_BYTES // 2**20
TOO_LARGE = f"The file is larger than {_MB} MB: nothing was imported. Split the export or remove old chats."


def _problem(message: str, status: int) -> Response:
    return PlainTextResponse(message, status_code=status)


def _host(request: Request) -> str:
    return web.request_host(request.headers.get("host", ""), request.headers)


def _same_origin(request: Request) -> bool:
    """A browser's Origin header, when present, must name this very host (no cross-site uploads)."""
    origin = request.headers.get("origin")
    if origin is None:
        return True
    return urlsplit(origin).netloc.lower() == _host(request).lower() != ""


async def _user(request: Request) -> Ctx | Response:
    """The signed-in member asking, or the response refusing them; the body is never touched here."""
    found = await tenants.lookup_host(_host(request))
    if found is None:
        return _problem("No such workspace.", 404)
    ip = web.client_ip(request.client.host if request.client else "", request.headers)
    ctx = await accounts.authenticate(found.id, parse_cookie(request.headers.get("cookie", "")), ip=ip)
    if ctx is None:
        return _problem("You are not signed in (or your session has ended). Log in again.", 401)
    if not roles.has(ctx, "workspace.use"):
        return _problem("You do not have permission to import or export chats in this workspace.", 403)
    return ctx


def _open(path: str) -> IO[bytes]:
    return open(path, "xb")


async def upload_import(request: Request) -> Response:
    if not _same_origin(request):
        return _problem("Uploads are accepted from this workspace's own pages only.", 403)
    who = await _user(request)
    if isinstance(who, Response):
        return who
    length = request.headers.get("content-length")
    if length is not None:
        if not length.isdigit():
            return _problem("The upload has an invalid Content-Length.", 400)
        if int(length) > chat.MAX_IMPORT_BYTES:
            return _problem(TOO_LARGE, 413)
    name = " ".join(request.query_params.get("name", "").split())[:200] or "file"
    try:
        token, path = await asyncio.to_thread(transfers.new_upload, who)
    except ServiceError as exc:
        return _problem(str(exc), 429)
    partial = path.with_name(path.name + ".part")  # renamed when complete: a partial file cannot be imported
    out = await asyncio.to_thread(_open, str(partial))
    size, buffer, refused = 0, bytearray(), None
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > chat.MAX_IMPORT_BYTES:
                refused = _problem(TOO_LARGE, 413)
                break
            buffer += chunk
            if len(buffer) >= _FLUSH:
                await asyncio.to_thread(out.write, bytes(buffer))
                buffer.clear()
        if refused is None and buffer:
            await asyncio.to_thread(out.write, bytes(buffer))
    except ClientDisconnect:
        refused = _problem("The upload was interrupted. Try again.", 400)
    finally:
        await asyncio.to_thread(out.close)
    if refused is None and size == 0:
        refused = _problem("The file is empty: choose an export file.", 400)
    if refused is not None:
        await asyncio.to_thread(partial.unlink, missing_ok=True)
        return refused
    await asyncio.to_thread(partial.rename, path)
    return JSONResponse({"id": token, "name": name, "size": size})


async def download_export(request: Request) -> Response:
    who = await _user(request)
    if isinstance(who, Response):
        return who
    path = await asyncio.to_thread(transfers.claim_download, who, request.path_params["token"])
    if path is None:
        return _problem("This download has expired or was already used. Export again.", 404)
    handle, size = await asyncio.to_thread(_open_then_discard, path)
    return StreamingResponse(
        _chunks(handle),
        media_type="application/zip" if path.suffix == ".zip" else "application/octet-stream",
        headers={
            "Content-Disposition": f'attachment; filename="{path.name}"',
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
