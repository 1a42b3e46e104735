"""Agent avatars: an emoji, or an uploaded image.

An uploaded image is decoded and drawn again (Pillow, in a thread) as a PNG of at most SIZE pixels a side: what
is stored and served is always a small, plain PNG we made, never the upload's own bytes (no SVG, no script, no
metadata, no decompression bomb). It is kept once per workspace by its content's hash under
`tenant/<tenant id>/agent-avatars/<sha256>.png`, and an agent's `avatar` says `image:<sha256>`. The image is
uploaded before the agent is saved (the builder previews it), so a save checks that the image exists in the
saving member's workspace.

Who may read it: any signed-in member of the workspace (the gallery shows avatars to everyone who sees the
agents; a private agent's avatar is found only by its 256-bit hash).
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import re
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path

from services.auth.roles import require
from services.context import Ctx
from services.errors import NotFound, ValidationError
from services.files.storage import get_storage

SIZE = 256
MAX_UPLOAD_BYTES = 5 * 1024 * 1024
MAX_PIXELS = 40_000_000  # a 6,000 × 6,000 photo decodes; a crafted 50,000 × 50,000 PNG does not
FORMATS = ("PNG", "JPEG", "WEBP", "GIF")
PREFIX = "image:"
_HASH = re.compile(r"^[0-9a-f]{64}$")
NOT_AN_IMAGE = "The avatar must be a PNG, JPEG, WebP or GIF image."
MISSING = "The agent's avatar image is gone: upload it again, or choose an emoji."


def image_hash(avatar: str) -> str | None:
    """The image's hash when `avatar` is an uploaded image ("image:<sha256>"), else None (an emoji or nothing)."""
    if not avatar.startswith(PREFIX):
        return None
    digest = avatar.removeprefix(PREFIX)
    return digest if _HASH.fullmatch(digest) else None


def url(avatar: str) -> str:
    """Where the browser reads an image avatar ("" for an emoji)."""
    digest = image_hash(avatar)
    return f"/api/agents/avatar/{digest}.png" if digest else ""


def key(ctx: Ctx, digest: str) -> str:
    return f"tenant/{ctx.tenant_id}/agent-avatars/{digest}.png"


def _redraw(source: Path) -> bytes:
    """The upload as our own square-bounded PNG, or ValidationError saying why it is not an avatar."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(source) as image:
            if image.format not in FORMATS:
                raise ValidationError(NOT_AN_IMAGE)
            width, height = image.size
            if width * height > MAX_PIXELS:
                raise ValidationError(
                    f"The image is too large ({width:,} × {height:,} pixels). Use one under 6,000 × 6,000."
                )
            image.seek(0)  # an animated GIF's first frame
            image.draft("RGB", (SIZE * 2, SIZE * 2))  # JPEG: decode at a reduced size, much faster
            frame = image.convert("RGBA")
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError, SyntaxError, ValueError):
        raise ValidationError(NOT_AN_IMAGE) from None
    frame.thumbnail((SIZE, SIZE), Image.Resampling.LANCZOS)
    out = io.BytesIO()
    frame.save(out, format="PNG", optimize=True)
    return out.getvalue()


def _write(data: bytes) -> Path:
    handle = tempfile.NamedTemporaryFile(prefix="avatar-", suffix=".png", delete=False)
    with handle:
        handle.write(data)
    return Path(handle.name)


async def store_avatar(ctx: Ctx, source: Path) -> str:
    """Keep the uploaded image at `source` as an avatar of this workspace; returns the agent's `avatar` value."""
    require(ctx, "workspace.use")
    png = await asyncio.to_thread(_redraw, source)
    digest = hashlib.sha256(png).hexdigest()
    storage = get_storage()
    if await storage.size(key(ctx, digest)) is None:
        staged = await asyncio.to_thread(_write, png)
        try:
            await storage.put(key(ctx, digest), staged)
        finally:
            await asyncio.to_thread(staged.unlink, True)
    return PREFIX + digest


async def check(ctx: Ctx, avatar: str) -> str:
    """An agent's avatar as saved: "" (the default icon), an emoji, or an image of this workspace."""
    avatar = avatar.strip()
    if avatar.startswith(PREFIX):
        digest = image_hash(avatar)
        if digest is None or await get_storage().size(key(ctx, digest)) is None:
            raise ValidationError(MISSING)
        return avatar
    if len(avatar) > 16:
        raise ValidationError("The avatar is an emoji (one or two characters), or an uploaded image.")
    return avatar


async def read_avatar(ctx: Ctx, digest: str) -> tuple[int, AsyncIterator[bytes]]:
    """(size, bytes) of one of this workspace's avatar images; NotFound otherwise."""
    require(ctx, "workspace.use")
    if not _HASH.fullmatch(digest):
        raise NotFound("No such avatar.")
    storage = get_storage()
    size = await storage.size(key(ctx, digest))
    if size is None:
        raise NotFound("No such avatar.")
    return size, storage.open(key(ctx, digest))
