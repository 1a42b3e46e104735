"""What every upload and download route checks first, and the streamed, size-limited receiving of a body.

Who is asking (tenant from the host, user from the HttpOnly session cookie, same origin for uploads) is
checked BEFORE any byte of the body is read; the size limit is enforced from Content-Length and again while the
body streams to a staged file, never by holding the body in memory.
"""

from __future__ import annotations

import asyncio
import hashlib
from pathlib import Path
from typing import IO
from urllib.parse import urlsplit

from starlette.requests import ClientDisconnect, Request
from starlette.responses import PlainTextResponse, Response

from services import tenants, web
from services.auth import accounts, roles
from services.context import Ctx
from state.request import parse_cookie

FLUSH = 1024 * 1024  # bytes buffered before each write to disk


def problem(message: str, status: int) -> Response:
    return PlainTextResponse(message, status_code=status, headers={"Cache-Control": "no-store"})


def host(request: Request) -> str:
    return web.request_host(request.headers.get("host", ""), request.headers)


def same_origin(request: Request) -> bool:
    """A browser's Origin header, when present, must name this very host (no cross-site uploads)."""
    origin = request.headers.get("origin")
    if origin is None:
        return True
    return urlsplit(origin).netloc.lower() == host(request).lower() != ""


async def member(request: Request, doing: str) -> Ctx | Response:
    """The signed-in member asking, or the response refusing them; the body is never touched here.
    `doing` completes "You do not have permission to ..."."""
    found = await tenants.lookup_host(host(request))
    if found is None:
        return problem("No such workspace.", 404)
    ip = web.client_ip(request.client.host if request.client else "", request.headers)
    ctx = await accounts.authenticate(found.id, parse_cookie(request.headers.get("cookie", "")), ip=ip)
    if ctx is None:
        return problem("You are not signed in (or your session has ended). Log in again.", 401)
    if not roles.has(ctx, "workspace.use"):
        return problem(f"You do not have permission to {doing} in this workspace.", 403)
    return ctx


def declared_too_large(request: Request, limit: int, too_large: str) -> Response | None:
    length = request.headers.get("content-length")
    if length is None:
        return None
    if not length.isdigit():
        return problem("The upload has an invalid Content-Length.", 400)
    if int(length) > limit:
        return problem(too_large, 413)
    return None


def _open(path: str) -> IO[bytes]:
    return open(path, "xb")


async def receive(request: Request, into: Path, limit: int, too_large: str) -> tuple[int, str] | Response:
    """Stream the body into `into` (created, never overwritten): (size, sha256 hex), or the refusal, in which case
    nothing is left on disk."""
    out = await asyncio.to_thread(_open, str(into))
    size, buffer, refused, digest = 0, bytearray(), None, hashlib.sha256()
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                refused = problem(too_large, 413)
                break
            buffer += chunk
            if len(buffer) >= FLUSH:
                block = bytes(buffer)
                buffer.clear()
                digest.update(block)
                await asyncio.to_thread(out.write, block)
        if refused is None and buffer:
            digest.update(bytes(buffer))
            await asyncio.to_thread(out.write, bytes(buffer))
    except ClientDisconnect:
        refused = problem("The upload was interrupted. Try again.", 400)
    finally:
        await asyncio.to_thread(out.close)
    if refused is not None:
        await asyncio.to_thread(into.unlink, missing_ok=True)
        return refused
    return size, digest.hexdigest()
