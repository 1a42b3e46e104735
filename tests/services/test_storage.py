"""File storage, both back ends: a folder in tmp_path and S3 through boto3 against a real moto S3 server on
loopback. No database involved."""

from __future__ import annotations

import hashlib
import os
import re
import tracemalloc
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from services.config import get_settings
from services.files.storage import (
    PRESIGN_MAX_SECONDS,
    LocalStorage,
    S3Storage,
    Storage,
    StorageError,
    StorageKeyError,
    StorageNotFound,
    content_disposition,
    get_storage,
    object_key,
)
from tests.fakes.s3_server import SECRET_ACCESS_KEY, FakeS3Server, s3_server  # noqa: F401 (the fixture)

MB = 1024 * 1024


@pytest.fixture(params=["local", "s3"])
def storage(request: pytest.FixtureRequest, tmp_path: Path) -> Storage:
    if request.param == "local":
        return LocalStorage(tmp_path / "files")
    server: FakeS3Server = request.getfixturevalue("s3_server")
    # A prefix per test keeps the tests' objects apart in the shared bucket.
    return server.storage(prefix=f"run-{uuid.uuid4().hex[:8]}/")


def new_key() -> str:
    return object_key(uuid.uuid4(), uuid.uuid4(), uuid.uuid4())


def random_file(path: Path, size: int) -> str:
    """Write `size` random bytes to `path`; return their sha256."""
    digest = hashlib.sha256()
    with path.open("wb") as out:
        left = size
        while left:
            block = os.urandom(min(left, MB))
            digest.update(block)
            out.write(block)
            left -= len(block)
    return digest.hexdigest()


def files_under(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.is_file()]


async def read_all(chunks: AsyncIterator[bytes]) -> bytes:
    return b"".join([chunk async for chunk in chunks])


async def test_round_trip_of_a_multi_megabyte_file_in_chunks(storage: Storage, tmp_path: Path) -> None:
    source = tmp_path / "staged.bin"
    size = 20 * MB + 12345  # over the multipart threshold: three parts on S3
    expected = random_file(source, size)
    key = new_key()

    await storage.put(key, source)

    digest = hashlib.sha256()
    chunks = 0
    async for chunk in storage.open(key, chunk_size=64 * 1024):
        assert 0 < len(chunk) <= 64 * 1024
        digest.update(chunk)
        chunks += 1
    assert digest.hexdigest() == expected
    assert chunks >= size // (64 * 1024)
    assert await storage.size(key) == size
    if isinstance(storage, S3Storage):
        head = storage.client().head_object(Bucket=storage.bucket, Key=storage.full_key(key))
        assert head["ETag"].strip('"').endswith("-3"), "a 20 MB file goes up as a three-part multipart upload"


async def test_put_replaces_and_sizes(storage: Storage, tmp_path: Path) -> None:
    key = new_key()
    assert await storage.size(key) is None
    first, second, empty = tmp_path / "first.txt", tmp_path / "second.txt", tmp_path / "empty"
    first.write_bytes(b"first version, longer")
    second.write_bytes(b"second")
    empty.write_bytes(b"")

    await storage.put(key, first)
    assert await storage.size(key) == len(b"first version, longer")
    await storage.put(key, second)
    assert await storage.size(key) == 6
    assert await read_all(storage.open(key)) == b"second"

    empty_key = new_key()
    await storage.put(empty_key, empty)
    assert await storage.size(empty_key) == 0
    assert await read_all(storage.open(empty_key)) == b""


async def test_delete_is_idempotent_and_reading_a_missing_object_says_so(
    storage: Storage, tmp_path: Path
) -> None:
    key = new_key()
    await storage.delete(key)  # never existed: fine

    source = tmp_path / "doc.txt"
    source.write_text("to be deleted")
    await storage.put(key, source)
    other = new_key()
    await storage.put(other, source)

    await storage.delete(key)
    assert await storage.size(key) is None
    await storage.delete(key)  # again: fine
    with pytest.raises(StorageNotFound):
        await read_all(storage.open(key))
    assert await read_all(storage.open(other)) == b"to be deleted", "deleting one object leaves the others"


async def test_a_missing_staged_file_is_an_error_and_keeps_the_object(
    storage: Storage, tmp_path: Path
) -> None:
    key = new_key()
    source = tmp_path / "doc.txt"
    source.write_text("kept")
    await storage.put(key, source)
    with pytest.raises(FileNotFoundError):
        await storage.put(key, tmp_path / "gone.txt")
    assert await read_all(storage.open(key)) == b"kept"


async def test_presign(storage: Storage, tmp_path: Path) -> None:
    key = new_key()
    source = tmp_path / "report.pdf"
    source.write_bytes(b"%PDF-1.4 not really a pdf")
    await storage.put(key, source)
    name = 'Résumé "final" 2024.pdf'

    url = await storage.presign(key, filename=name, mime="application/pdf", seconds=3600)

    if isinstance(storage, LocalStorage):
        assert url is None, "local files are streamed through our own route"
        return
    assert url is not None
    query = parse_qs(urlsplit(url).query)
    assert query["X-Amz-Expires"] == [str(PRESIGN_MAX_SECONDS)], "asking for an hour gets five minutes"
    assert query["X-Amz-Algorithm"] == ["AWS4-HMAC-SHA256"]
    assert SECRET_ACCESS_KEY not in url
    async with httpx.AsyncClient() as http:
        response = await http.get(url)
    assert response.status_code == 200
    assert response.content == b"%PDF-1.4 not really a pdf"
    assert response.headers["content-type"] == "application/pdf"
    disposition = response.headers["content-disposition"]
    assert disposition == content_disposition(name)
    assert disposition.startswith("attachment; ")
    assert "filename*=UTF-8''R%C3%A9sum%C3%A9%20%22final%22%202024.pdf" in disposition

    short = await storage.presign(key, filename="a.txt", mime="text/plain", seconds=60)
    assert short is not None
    assert parse_qs(urlsplit(short).query)["X-Amz-Expires"] == ["60"]


def test_content_disposition_is_one_safe_header() -> None:
    value = content_disposition('evil\r\nSet-Cookie: x=1/../"name".txt')
    assert "\r" not in value and "\n" not in value
    assert value == (
        'attachment; filename="evil  Set-Cookie: x=1_..__name_.txt"; '
        "filename*=UTF-8''evil%20%20Set-Cookie%3A%20x%3D1_.._%22name%22.txt"
    )
    assert (
        content_disposition("plain.txt") == "attachment; filename=\"plain.txt\"; filename*=UTF-8''plain.txt"
    )
    assert content_disposition("").startswith('attachment; filename="download"')


def test_object_key_shape() -> None:
    tenant, user, file_id = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    key = object_key(tenant, user, file_id)
    assert key == f"tenant/{tenant}/user/{user}/{file_id}"
    assert re.fullmatch(r"tenant/[0-9a-f-]{36}/user/[0-9a-f-]{36}/[0-9a-f-]{36}", key)


BAD_KEYS = [
    "",
    "/etc/passwd",
    "../outside",
    "tenant/../../outside",
    "tenant/./x",
    "tenant//x",
    "tenant/x/",
    ".hidden",
    "tenant/.x.tmp",
    "tenant\\..\\x",
    "tenant/x y",
    "tenant/\x00",
    "a" * 1100,
]


@pytest.mark.parametrize("key", BAD_KEYS)
async def test_bad_keys_are_refused_on_local(key: str, tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path / "root")
    source = tmp_path / "x.txt"
    source.write_text("x")
    with pytest.raises(StorageKeyError):
        await storage.put(key, source)
    with pytest.raises(StorageKeyError):
        await storage.size(key)
    with pytest.raises(StorageKeyError):
        await storage.delete(key)
    with pytest.raises(StorageKeyError):
        await read_all(storage.open(key))
    assert not (tmp_path / "outside").exists()
    assert files_under(tmp_path) == [source]


async def test_a_key_through_a_symlink_out_of_the_root_is_refused(tmp_path: Path) -> None:
    root = tmp_path / "root"
    outside = tmp_path / "outside"
    outside.mkdir()
    (root / "tenant").mkdir(parents=True)
    (root / "tenant" / "link").symlink_to(outside)
    storage = LocalStorage(root)
    source = tmp_path / "x.txt"
    source.write_text("x")
    with pytest.raises(StorageKeyError, match="outside"):
        await storage.put("tenant/link/file", source)
    assert list(outside.iterdir()) == []


async def test_local_writes_are_atomic_private_files(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path / "root")
    source = tmp_path / "x.txt"
    source.write_text("content")
    key = new_key()
    await storage.put(key, source)
    await storage.put(key, source)
    path = storage.path_of(key)
    assert path.read_text() == "content"
    assert os.stat(path).st_mode & 0o777 == 0o600
    assert [p.name for p in path.parent.iterdir()] == [path.name], "no temp files are left behind"
    assert await storage.size(key.rsplit("/", 1)[0]) is None, "a folder is not an object"


async def test_bad_keys_are_refused_on_s3_too(s3_server: FakeS3Server, tmp_path: Path) -> None:  # noqa: F811
    storage = s3_server.storage()
    with pytest.raises(StorageKeyError):
        await storage.size("../x")
    with pytest.raises(StorageKeyError):
        await storage.presign("/abs", filename="a", mime="text/plain")


async def test_s3_objects_are_private_and_under_the_prefix(s3_server: FakeS3Server, tmp_path: Path) -> None:  # noqa: F811
    prefix = f"solo-{uuid.uuid4().hex[:6]}"
    storage = s3_server.storage(prefix=f"/{prefix}/")
    key = new_key()
    source = tmp_path / "x.txt"
    source.write_text("private")
    await storage.put(key, source)

    client = s3_server.client()
    listed = client.list_objects_v2(Bucket=s3_server.bucket, Prefix=f"{prefix}/")
    assert [o["Key"] for o in listed["Contents"]] == [f"{prefix}/{key}"]
    acl = client.get_object_acl(Bucket=s3_server.bucket, Key=f"{prefix}/{key}")
    assert len(acl["Grants"]) == 1, acl["Grants"]
    (grant,) = acl["Grants"]
    assert grant["Permission"] == "FULL_CONTROL"
    assert grant["Grantee"]["Type"] == "CanonicalUser"
    assert grant["Grantee"]["ID"] == acl["Owner"]["ID"]
    assert "URI" not in str(acl["Grants"]), "no AllUsers / AuthenticatedUsers group grant"


@pytest.mark.parametrize("backend", ["local", "s3"])
async def test_a_100_mb_file_never_sits_in_memory(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    storage: Storage
    if backend == "local":
        storage = LocalStorage(tmp_path / "root")
    else:
        server: FakeS3Server = request.getfixturevalue("s3_server")
        storage = server.storage()
        await storage.size(new_key())  # build the client (botocore's models) before measuring
    source = tmp_path / "big.bin"
    with source.open("wb") as out:
        out.truncate(100 * MB)  # sparse: costs no disk until copied
    key = new_key()

    tracemalloc.start()
    try:
        await storage.put(key, source)
        _, put_peak = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        total = 0
        async for chunk in storage.open(key):
            total += len(chunk)
        _, read_peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    await storage.delete(key)

    assert total == 100 * MB
    assert put_peak < 20 * MB, f"put held {put_peak / MB:.1f} MB"
    assert read_peak < 20 * MB, f"open held {read_peak / MB:.1f} MB"


async def test_s3_unreachable_is_a_clear_error_without_secrets(tmp_path: Path) -> None:
    storage = S3Storage(
        bucket="the-bucket",
        endpoint_url="http://127.0.0.1:9",  # discard port: nothing listens
        access_key_id="AKIAUNREACHABLE",
        secret_access_key="super-secret-value",
        connect_timeout=1,
        max_attempts=1,
    )
    source = tmp_path / "x.txt"
    source.write_text("x")
    for attempt in (storage.put(new_key(), source), storage.size(new_key()), storage.check()):
        with pytest.raises(StorageError) as caught:
            await attempt
        message = str(caught.value)
        assert "cannot reach the endpoint" in message
        assert "the-bucket" in message and "http://127.0.0.1:9" in message
        assert "super-secret-value" not in message
    assert "super-secret-value" not in repr(storage)


async def test_s3_missing_bucket_is_a_clear_error(s3_server: FakeS3Server, tmp_path: Path) -> None:  # noqa: F811
    storage = s3_server.storage(bucket="no-such-bucket-here")
    source = tmp_path / "x.txt"
    source.write_text("x")
    with pytest.raises(StorageError, match="the bucket no-such-bucket-here does not exist"):
        await storage.put(new_key(), source)
    with pytest.raises(StorageError, match="does not exist"):
        await storage.check()
    await s3_server.storage().check()


def test_get_storage_follows_the_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("FILES_DIR", "S3_BUCKET", "S3_ENDPOINT_URL", "S3_PREFIX"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("SOLO_DATA_DIR", str(tmp_path / "data"))
    get_settings.cache_clear()
    default = get_storage()
    assert isinstance(default, LocalStorage)
    assert default.root == (tmp_path / "data" / "files").resolve()
    assert get_settings().files_root == tmp_path / "data" / "files"

    monkeypatch.setenv("FILES_DIR", str(tmp_path / "elsewhere"))
    get_settings.cache_clear()
    local = get_storage()
    assert isinstance(local, LocalStorage) and local.root == (tmp_path / "elsewhere").resolve()
    get_settings.cache_clear()
    assert get_storage() is local, "one instance per configuration"

    monkeypatch.setenv("S3_BUCKET", "my-bucket")
    monkeypatch.setenv("S3_ENDPOINT_URL", "http://127.0.0.1:9000")
    monkeypatch.setenv("S3_PREFIX", "solo")
    get_settings.cache_clear()
    s3 = get_storage()
    assert isinstance(s3, S3Storage)
    assert (s3.name, s3.bucket, s3.endpoint_url, s3.prefix) == (
        "s3",
        "my-bucket",
        "http://127.0.0.1:9000",
        "solo/",
    )
    assert s3.full_key("tenant/a/b") == "solo/tenant/a/b"
