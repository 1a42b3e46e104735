"""Files on their way in (staged uploads waiting to be imported) and out (exports waiting to be downloaded).

A transfer is a file under `<SOLO_DATA_DIR>/transfers/` named by the tenant, the user and a random token.
The browser only ever holds the token: a lookup builds the name from the asking user's own ids, so a token is
useless to anybody else. Uploads are kept for UPLOAD_TTL, downloads for DOWNLOAD_TTL and are single-use (the
first download claims the file by renaming it). Everything here is quick, synchronous file-system work: call
it through `asyncio.to_thread` from async code.
"""

from __future__ import annotations

import re
import secrets
import shutil
import time
from pathlib import Path

from services.config import get_settings
from services.context import Ctx
from services.errors import ValidationError

UPLOAD_TTL = 60 * 60  # seconds a staged upload waits to be imported
DOWNLOAD_TTL = 10 * 60  # seconds an export waits to be downloaded
MAX_STAGED = 3  # uploads (complete or still arriving) one user may have waiting at a time
_TOKEN = re.compile(r"^[A-Za-z0-9_-]{32,64}$")
_FILENAME = re.compile(r"[^A-Za-z0-9._-]+")

UPLOAD_GONE = (
    "That upload was not found: it may have expired (uploads are kept for an hour). Upload the file again."
)


def _root(kind: str) -> Path:
    path = get_settings().solo_data_dir / "transfers" / kind
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    return path


def _owner(ctx: Ctx) -> str:
    return f"{ctx.tenant_id.hex}-{ctx.user_id.hex}"


def _valid(token: str) -> bool:
    return bool(_TOKEN.fullmatch(token or ""))


def sweep(now: float | None = None) -> int:
    """Delete transfers older than their time to live; the number deleted."""
    now = time.time() if now is None else now
    removed = 0
    for kind, ttl in (("uploads", UPLOAD_TTL), ("downloads", DOWNLOAD_TTL)):
        for entry in _root(kind).iterdir():
            try:
                if now - entry.stat().st_mtime > ttl:
                    shutil.rmtree(entry) if entry.is_dir() else entry.unlink()
                    removed += 1
            except FileNotFoundError:
                pass
    return removed


# Uploads ----------------------------------------------------------------------------------------------------


def new_upload(ctx: Ctx) -> tuple[str, Path]:
    """A token and the (not yet existing) path its upload is written to; refuses (ValidationError) a user
    who already has MAX_STAGED uploads waiting, so that nobody fills the disk."""
    sweep()
    root = _root("uploads")
    if len(list(root.glob(f"{_owner(ctx)}-*"))) >= MAX_STAGED:
        raise ValidationError(
            f"You already have {MAX_STAGED} uploads waiting to be imported. Wait for them to finish, or try "
            "again in an hour."
        )
    token = secrets.token_urlsafe(32)
    return token, root / f"{_owner(ctx)}-{token}"


def claim_upload(ctx: Ctx, token: str) -> Path:
    """The user's staged upload, taken so that it is imported once; raises ValidationError if there is none.

    The caller deletes the returned file when done (`discard`)."""
    if not _valid(token):
        raise ValidationError(UPLOAD_GONE)
    path = _root("uploads") / f"{_owner(ctx)}-{token}"
    claimed = path.with_name(path.name + ".importing")
    try:
        if time.time() - path.stat().st_mtime > UPLOAD_TTL:
            path.unlink(missing_ok=True)
            raise ValidationError(UPLOAD_GONE)
        path.rename(claimed)
        claimed.touch()  # the sweep counts its time to live from now on
    except FileNotFoundError:
        raise ValidationError(UPLOAD_GONE) from None
    return claimed


def discard(path: Path) -> None:
    """Delete a claimed transfer (a file, or a download's folder)."""
    target = path.parent if path.parent.name.endswith(".sending") else path
    if target.is_dir():
        shutil.rmtree(target, ignore_errors=True)
    else:
        target.unlink(missing_ok=True)


# Downloads --------------------------------------------------------------------------------------------------


def safe_filename(name: str, default: str = "download") -> str:
    cleaned = _FILENAME.sub("-", name).strip("-.")[:80]
    return cleaned or default


def new_download(ctx: Ctx, filename: str) -> tuple[str, Path]:
    """A token and the path to write the file to; the download is offered under `filename`."""
    sweep()
    token = secrets.token_urlsafe(32)
    folder = _root("downloads") / f"{_owner(ctx)}-{token}"
    folder.mkdir(mode=0o700)
    return token, folder / safe_filename(filename)


def claim_download(ctx: Ctx, token: str) -> Path | None:
    """The user's prepared download, claimed for this one request (None if it is not theirs, gone or stale)."""
    if not _valid(token):
        return None
    folder = _root("downloads") / f"{_owner(ctx)}-{token}"
    claimed = folder.with_name(folder.name + ".sending")
    try:
        if time.time() - folder.stat().st_mtime > DOWNLOAD_TTL:
            shutil.rmtree(folder, ignore_errors=True)
            return None
        folder.rename(claimed)
        claimed.touch()
    except FileNotFoundError:
        return None
    files = [f for f in claimed.iterdir() if f.is_file()]
    if not files:
        shutil.rmtree(claimed, ignore_errors=True)
        return None
    return files[0]
