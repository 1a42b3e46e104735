"""Where uploaded files live: one interface, two back ends.

`LocalStorage` keeps objects in a folder (FILES_DIR, else SOLO_DATA_DIR/files); `S3Storage` in a bucket of any
S3-compatible store through boto3. `get_storage()` picks S3 when S3_BUCKET is set. Keys come from
`object_key()` and start with the tenant; nothing is ever public: S3 objects keep the bucket's private ACL and
downloads go through short presigned URLs (S3) or our own authenticated route (local, `presign` is None).

Every call is async; the blocking work (disk, boto3) runs in threads. Reads and writes stream: no object is
ever read into memory whole.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import threading
import uuid
from collections.abc import AsyncIterator
from functools import lru_cache
from pathlib import Path
from stat import S_ISREG
from typing import IO, Any, Protocol
from urllib.parse import quote

from services.config import Settings, get_settings

CHUNK_SIZE = 256 * 1024
MULTIPART_THRESHOLD = 8 * 1024 * 1024  # S3: files over this go up in parts of this size
PRESIGN_MAX_SECONDS = 300
_COPY_BUFFER = 1024 * 1024
_KEY_MAX = 1024
_SEGMENT = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]*")  # no segment starts with "." (no "..", no temp names)


class StorageError(Exception):
    """Storage failed. The message is for the operator: what failed, where (bucket, endpoint), never a secret."""


class StorageKeyError(StorageError, ValueError):
    """A key that is not one of ours (absolute, "..", odd characters, outside the root)."""


class StorageNotFound(StorageError):
    """The object does not exist (reading a missing key)."""


class Storage(Protocol):
    name: str  # "local" | "s3"

    async def put(self, key: str, source: Path) -> None:
        """Store the staged file `source` under `key` (replacing any object there), streaming it."""
        ...

    def open(self, key: str, *, chunk_size: int = CHUNK_SIZE) -> AsyncIterator[bytes]:
        """The object's bytes in chunks; raises StorageNotFound (on first iteration) when it is missing."""
        ...

    async def size(self, key: str) -> int | None:
        """The object's size in bytes; None when it is missing."""
        ...

    async def delete(self, key: str) -> None:
        """Remove the object; a missing one is fine."""
        ...

    async def presign(
        self, key: str, *, filename: str, mime: str, seconds: int = PRESIGN_MAX_SECONDS
    ) -> str | None:
        """A GET URL valid at most PRESIGN_MAX_SECONDS that downloads the object as `filename`; None when the
        back end has no such URLs (the caller streams the object through its own route)."""
        ...


def object_key(tenant_id: uuid.UUID, user_id: uuid.UUID, file_id: uuid.UUID) -> str:
    """The key of a file: `tenant/<tenant id>/user/<user id>/<file id>`. S3 adds S3_PREFIX in front itself."""
    return f"tenant/{tenant_id}/user/{user_id}/{file_id}"


def check_key(key: str) -> str:
    """`key` when it is a safe relative key ("a/b/c" of letters, digits, "._-"); StorageKeyError otherwise."""
    if not isinstance(key, str) or not key or len(key) > _KEY_MAX:
        raise StorageKeyError(f"invalid storage key {key!r}: empty or longer than {_KEY_MAX} characters")
    if any(not _SEGMENT.fullmatch(segment) for segment in key.split("/")):
        raise StorageKeyError(
            f"invalid storage key {key!r}: it must be relative, made of segments of letters, digits and '._-' "
            "that do not start with '.'"
        )
    return key


def clamp_seconds(seconds: int) -> int:
    return max(1, min(int(seconds), PRESIGN_MAX_SECONDS))


def content_disposition(filename: str) -> str:
    """`attachment` with an ASCII fallback name and the exact UTF-8 name (RFC 6266 / 5987)."""
    name = "".join(" " if ord(c) < 32 or ord(c) == 127 else c for c in filename)
    name = name.replace("/", "_").replace("\\", "_").strip() or "download"
    fallback = "".join(c if 32 <= ord(c) < 127 and c not in '"%' else "_" for c in name)
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(name, safe='')}"


# Local folder ---------------------------------------------------------------------------------------------


class LocalStorage:
    """Objects as files under `root`. Writes are atomic: a temp file in the same folder, fsync, rename."""

    name = "local"

    def __init__(self, root: Path) -> None:
        self.root = Path(root).resolve()

    def path_of(self, key: str) -> Path:
        path = (self.root / check_key(key)).resolve()
        if not path.is_relative_to(self.root) or path == self.root:
            raise StorageKeyError(f"invalid storage key {key!r}: it leads outside {self.root}")
        return path

    async def put(self, key: str, source: Path) -> None:
        target = self.path_of(key)
        try:
            await asyncio.to_thread(_atomic_copy, Path(source), target)
        except FileNotFoundError:
            raise
        except OSError as exc:
            raise StorageError(f"could not write {key} under {self.root}: {exc.strerror or exc}") from exc

    async def open(self, key: str, *, chunk_size: int = CHUNK_SIZE) -> AsyncIterator[bytes]:
        path = self.path_of(key)
        try:
            handle: IO[bytes] = await asyncio.to_thread(path.open, "rb")
        except FileNotFoundError as exc:
            raise StorageNotFound(f"no stored object {key} under {self.root}") from exc
        except OSError as exc:
            raise StorageError(f"could not read {key} under {self.root}: {exc.strerror or exc}") from exc
        try:
            while chunk := await asyncio.to_thread(handle.read, chunk_size):
                yield chunk
        finally:
            handle.close()

    async def size(self, key: str) -> int | None:
        path = self.path_of(key)
        try:
            stat = await asyncio.to_thread(path.stat)
        except FileNotFoundError:
            return None
        return stat.st_size if S_ISREG(stat.st_mode) else None

    async def delete(self, key: str) -> None:
        path = self.path_of(key)
        # Empty folders stay: removing them would race with a put creating a file in them.
        await asyncio.to_thread(path.unlink, missing_ok=True)

    async def presign(
        self, key: str, *, filename: str, mime: str, seconds: int = PRESIGN_MAX_SECONDS
    ) -> str | None:
        self.path_of(key)
        return None


def _atomic_copy(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    temp = target.parent / f".{target.name}.{uuid.uuid4().hex}.tmp"
    try:
        with (
            source.open("rb") as src,
            os.fdopen(os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb") as dst,
        ):
            while block := src.read(_COPY_BUFFER):
                dst.write(block)
            dst.flush()
            os.fsync(dst.fileno())
        os.replace(temp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            temp.unlink()
        raise
    folder = os.open(target.parent, os.O_RDONLY)
    try:
        os.fsync(folder)  # the rename itself survives a crash
    finally:
        os.close(folder)


# S3-compatible ---------------------------------------------------------------------------------------------


class S3Storage:
    """Objects in an S3 bucket through boto3's sync client, every call in a thread. The client is built on
    first use (that loads botocore's models: blocking) and shared; boto3 clients are thread-safe."""

    name = "s3"

    def __init__(
        self,
        *,
        bucket: str,
        endpoint_url: str = "",
        region: str = "us-east-1",
        access_key_id: str = "",
        secret_access_key: str = "",
        prefix: str = "",
        connect_timeout: float = 5.0,
        read_timeout: float = 60.0,
        max_attempts: int = 3,
    ) -> None:
        if not bucket:
            raise StorageError("S3 storage needs a bucket name (S3_BUCKET)")
        self.bucket = bucket
        self.endpoint_url = endpoint_url
        self.region = region or "us-east-1"
        self._access_key_id = access_key_id
        self._secret_access_key = secret_access_key
        self.prefix = f"{prefix.strip('/')}/" if prefix.strip("/") else ""
        if self.prefix:
            check_key(self.prefix.rstrip("/"))
        self._timeouts = (connect_timeout, read_timeout, max_attempts)
        self._client: Any = None
        self._lock = threading.Lock()

    def __repr__(self) -> str:  # no secrets
        return f"S3Storage(bucket={self.bucket!r}, endpoint={self._where()!r}, prefix={self.prefix!r})"

    def full_key(self, key: str) -> str:
        """The object's key in the bucket: S3_PREFIX + key."""
        return self.prefix + check_key(key)

    def client(self) -> Any:
        """The boto3 client (sync; call from a thread)."""
        with self._lock:
            if self._client is None:
                import boto3
                from botocore.config import Config

                connect, read, attempts = self._timeouts
                config = Config(
                    signature_version="s3v4",
                    connect_timeout=connect,
                    read_timeout=read,
                    retries={"max_attempts": attempts, "mode": "standard"},
                    # Custom endpoints (MinIO, moto, many others) want path-style URLs.
                    s3={"addressing_style": "path" if self.endpoint_url else "auto"},
                )
                credentials: dict[str, str] = {}
                if self._access_key_id:
                    credentials = {
                        "aws_access_key_id": self._access_key_id,
                        "aws_secret_access_key": self._secret_access_key,
                    }
                self._client = boto3.session.Session().client(
                    "s3",
                    endpoint_url=self.endpoint_url or None,
                    region_name=self.region,
                    config=config,
                    **credentials,
                )
            return self._client

    async def put(self, key: str, source: Path) -> None:
        full = self.full_key(key)
        source = Path(source)
        if not await asyncio.to_thread(source.is_file):
            raise FileNotFoundError(f"no staged file at {source}")
        await self._call("upload", key, self._upload, full, source)

    def _upload(self, full: str, source: Path) -> None:
        from boto3.s3.transfer import TransferConfig

        transfer = TransferConfig(
            multipart_threshold=MULTIPART_THRESHOLD,
            multipart_chunksize=MULTIPART_THRESHOLD,
            max_concurrency=4,
        )
        # No ACL argument: the object stays private (owner only), whatever the bucket's defaults allow.
        self.client().upload_file(str(source), self.bucket, full, Config=transfer)

    async def open(self, key: str, *, chunk_size: int = CHUNK_SIZE) -> AsyncIterator[bytes]:
        full = self.full_key(key)
        response = await self._call(
            "read", key, lambda: self.client().get_object(Bucket=self.bucket, Key=full)
        )
        body = response["Body"]
        try:
            while True:
                chunk = await self._call("read", key, body.read, chunk_size)
                if not chunk:
                    break
                yield chunk
        finally:
            await asyncio.to_thread(body.close)

    async def size(self, key: str) -> int | None:
        full = self.full_key(key)
        try:
            head = await self._call(
                "size", key, lambda: self.client().head_object(Bucket=self.bucket, Key=full)
            )
        except StorageNotFound:
            return None
        return int(head["ContentLength"])

    async def delete(self, key: str) -> None:
        full = self.full_key(key)
        await self._call("delete", key, lambda: self.client().delete_object(Bucket=self.bucket, Key=full))

    async def presign(
        self, key: str, *, filename: str, mime: str, seconds: int = PRESIGN_MAX_SECONDS
    ) -> str | None:
        full = self.full_key(key)
        params = {
            "Bucket": self.bucket,
            "Key": full,
            "ResponseContentDisposition": content_disposition(filename),
            "ResponseContentType": mime or "application/octet-stream",
        }
        url = await self._call(
            "presign",
            key,
            lambda: self.client().generate_presigned_url(
                "get_object", Params=params, ExpiresIn=clamp_seconds(seconds)
            ),
        )
        return str(url)

    async def check(self) -> None:
        """Reach the bucket once (HEAD bucket): a StorageError says what is wrong with the configuration."""
        await self._call("check", "", lambda: self.client().head_bucket(Bucket=self.bucket))

    async def _call(self, action: str, key: str, fn: Any, *args: Any) -> Any:
        try:
            return await asyncio.to_thread(fn, *args)
        except StorageError:
            raise
        except Exception as exc:
            raise self._error(action, key, exc) from exc

    def _where(self) -> str:
        return self.endpoint_url or f"AWS S3 ({self.region})"

    def _error(self, action: str, key: str, exc: Exception) -> StorageError:
        from boto3.exceptions import S3UploadFailedError
        from botocore.exceptions import (
            BotoCoreError,
            ClientError,
            ConnectTimeoutError,
            EndpointConnectionError,
            NoCredentialsError,
            ReadTimeoutError,
        )

        target = f"s3://{self.bucket}/{self.prefix}{key}" if key else f"bucket {self.bucket}"
        where = f"{target} at {self._where()}"
        if isinstance(exc, S3UploadFailedError) and isinstance(exc.__context__, ClientError):
            exc = exc.__context__
        if isinstance(exc, ClientError):
            error = exc.response.get("Error", {})
            code = str(error.get("Code", ""))
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            if code in {"NoSuchKey", "404", "NotFound"} and key:
                return StorageNotFound(f"S3 {action}: no object {where}")
            if code in {"NoSuchBucket"} or (code in {"404", "NotFound"} and not key):
                return StorageError(
                    f"S3 {action} failed for {where}: the bucket {self.bucket} does not exist"
                )
            if code in {"InvalidAccessKeyId", "SignatureDoesNotMatch", "InvalidToken", "ExpiredToken"}:
                return StorageError(
                    f"S3 {action} failed for {where}: the store refused the credentials ({code}); check "
                    "S3_ACCESS_KEY_ID and S3_SECRET_ACCESS_KEY"
                )
            if code in {"AccessDenied", "403", "Forbidden", "AllAccessDisabled"}:
                return StorageError(
                    f"S3 {action} failed for {where}: access denied; the credentials need s3:PutObject, "
                    "s3:GetObject and s3:DeleteObject on the bucket"
                )
            return StorageError(
                f"S3 {action} failed for {where}: {code or status} {error.get('Message', '')}".strip()
            )
        if isinstance(exc, NoCredentialsError):
            return StorageError(
                f"S3 {action} failed for {where}: no credentials; set S3_ACCESS_KEY_ID and S3_SECRET_ACCESS_KEY "
                "(or the AWS_* variables)"
            )
        if isinstance(exc, EndpointConnectionError | ConnectTimeoutError):
            return StorageError(
                f"S3 {action} failed for {where}: cannot reach the endpoint; check S3_ENDPOINT_URL and the network"
            )
        if isinstance(exc, ReadTimeoutError):
            return StorageError(f"S3 {action} failed for {where}: the store did not answer in time")
        if isinstance(exc, BotoCoreError | S3UploadFailedError):
            return StorageError(f"S3 {action} failed for {where}: {exc}")
        return StorageError(f"S3 {action} failed for {where}: {type(exc).__name__}: {exc}")


# Choosing one ------------------------------------------------------------------------------------------------


def get_storage() -> Storage:
    """S3 when S3_BUCKET is set, else the local folder; one instance per distinct configuration."""
    settings = get_settings()
    return _storage_for(*_storage_config(settings))


def _storage_config(settings: Settings) -> tuple[str, str, str, str, str, str, str]:
    return (
        str(settings.files_root),
        settings.s3_bucket,
        settings.s3_endpoint_url,
        settings.s3_region,
        settings.s3_access_key_id,
        settings.s3_secret_access_key,
        settings.s3_prefix,
    )


@lru_cache(maxsize=8)
def _storage_for(
    root: str, bucket: str, endpoint_url: str, region: str, access_key_id: str, secret: str, prefix: str
) -> Storage:
    if bucket:
        return S3Storage(
            bucket=bucket,
            endpoint_url=endpoint_url,
            region=region,
            access_key_id=access_key_id,
            secret_access_key=secret,
            prefix=prefix,
        )
    return LocalStorage(Path(root))
