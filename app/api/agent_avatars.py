"""Agent avatar images (services/agents/avatars.py).

`POST /api/agents/avatar`: the raw image as the body (at most 5 MB; the session checked before the body is read).
Answers `{"avatar": "image:<sha256>", "url": ...}`, or a plain-text reason (413 too large, 415 not an image,
401/403/404 who is asking); the builder puts the value in the form, and saving the agent keeps it.

`GET /api/agents/avatar/<sha256>.png`: the workspace's image, to its signed-in members. Content-addressed, so
cached for good (privately); `nosniff` and a sandboxing CSP like every blob we serve.
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path

from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from app.api.files import staging
from app.api.guard import declared_too_large, member, problem, receive, same_origin
from services.agents import avatars
from services.errors import NotFound, ValidationError

TOO_LARGE = f"The image is larger than {avatars.MAX_UPLOAD_BYTES // (1024 * 1024)} MB: choose a smaller one."


async def upload_avatar(request: Request) -> Response:
    if not same_origin(request):
        return problem("Uploads are accepted from this workspace's own pages only.", 403)
    who = await member(request, "upload avatars")
    if isinstance(who, Response):
        return who
    refused = declared_too_large(request, avatars.MAX_UPLOAD_BYTES, TOO_LARGE)
    if refused is not None:
        return refused
    folder = Path(await asyncio.to_thread(tempfile.mkdtemp, prefix="avatar-", dir=staging()))
    try:
        staged = folder / "body"
        got = await receive(request, staged, avatars.MAX_UPLOAD_BYTES, TOO_LARGE)
        if isinstance(got, Response):
            return got
        if got[0] == 0:
            return problem("The image is empty.", 400)
        try:
            avatar = await avatars.store_avatar(who, staged)
        except ValidationError as exc:
            return problem(str(exc), 415)
        return JSONResponse({"avatar": avatar, "url": avatars.url(avatar)}, status_code=201)
    finally:
        await asyncio.to_thread(shutil.rmtree, folder, True)


async def read_avatar(request: Request) -> Response:
    who = await member(request, "see avatars")
    if isinstance(who, Response):
        return who
    try:
        size, blocks = await avatars.read_avatar(who, str(request.path_params["digest"]))
    except NotFound as exc:
        return problem(str(exc), 404)

    async def body() -> AsyncIterator[bytes]:
        async for block in blocks:
            yield block

    return StreamingResponse(
        body(),
        media_type="image/png",
        headers={
            "Content-Length": str(size),
            "X-Content-Type-Options": "nosniff",
            "Cache-Control": "private, max-age=31536000, immutable",
            "Content-Security-Policy": "default-src 'none'; sandbox",
        },
    )


ROUTES = [
    Route("/api/agents/avatar", upload_avatar, methods=["POST"]),
    Route("/api/agents/avatar/{digest}.png", read_avatar, methods=["GET"]),
]
