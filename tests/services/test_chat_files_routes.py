"""The import upload and export download routes, over real HTTP (granian serving our Starlette routes on
loopback, in the test's event loop, against the test database)."""

from __future__ import annotations

import asyncio
import io
import json
import socket
import time
import zipfile
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from granian.constants import Interfaces
from granian.server.embed import Server

from app.api.routes import build_api
from services import chat
from services.auth.accounts import start_session
from services.chat import transfers
from services.context import Ctx, TenantCtx
from services.db import tenant_session
from services.errors import ValidationError
from tests.services.test_chat_import_stream import solo_conversation, solo_file
from tests.services.test_chat_support import new_ctx


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
async def base(tmp_path, monkeypatch) -> AsyncIterator[str]:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("SOLO_DATA_DIR", str(tmp_path))
    port = _free_port()
    server = Server(build_api(), address="127.0.0.1", port=port, interface=Interfaces.ASGI, log_enabled=False)
    task = asyncio.create_task(server.serve())
    for _ in range(100):
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.close()
            break
        except OSError:
            await asyncio.sleep(0.05)
    yield f"127.0.0.1:{port}"
    server.stop()
    await asyncio.wait_for(task, 10)


async def signed_in(tenant: Any, email: str) -> tuple[Ctx, str]:
    ctx = await new_ctx(tenant.id, email)
    async with tenant_session(tenant.id) as session:
        token, _ = await start_session(session, TenantCtx(tenant_id=tenant.id), ctx.user_id)
    return ctx, token


def client(base: str, tenant: Any, token: str = "") -> httpx.AsyncClient:
    port = base.rsplit(":", 1)[1]
    headers = {"host": f"{tenant.slug}.localhost:{port}"}
    if token:
        headers["cookie"] = f"solo_session={token}"
    return httpx.AsyncClient(base_url=f"http://{base}", headers=headers, timeout=20)


async def raw_request(base: str, head: str, body: bytes = b"") -> tuple[float, bytes]:
    """Send only the head (and `body`) of a request announcing a huge body; how fast the answer came, and it."""
    host, port = base.rsplit(":", 1)
    reader, writer = await asyncio.open_connection(host, int(port))
    started = time.monotonic()
    writer.write(head.encode() + body)
    await writer.drain()
    answer = await asyncio.wait_for(reader.read(4096), 5)
    elapsed = time.monotonic() - started
    writer.close()
    return elapsed, answer


async def test_anonymous_upload_is_refused_before_the_body_is_read(base, tenant) -> None:
    port = base.rsplit(":", 1)[1]
    head = (
        f"POST /api/import?name=x.json HTTP/1.1\r\nHost: {tenant.slug}.localhost:{port}\r\n"
        f"Content-Type: application/octet-stream\r\nContent-Length: {50 * 2**30}\r\n\r\n"
    )
    elapsed, answer = await raw_request(base, head, b"[" * 1000)  # 50 GB announced, 1 KB sent, then silence
    assert answer.startswith(b"HTTP/1.1 401"), answer[:100]
    assert b"not signed in" in answer
    assert elapsed < 3
    forged = head.replace("\r\n\r\n", "\r\nCookie: solo_session=not-a-real-session\r\n\r\n")
    elapsed, answer = await raw_request(base, forged)
    assert answer.startswith(b"HTTP/1.1 401") and elapsed < 3
    assert list((transfers._root("uploads")).iterdir()) == []  # nothing was staged


async def test_upload_then_import_by_id_bound_to_the_user(base, tenant) -> None:
    alice, token = await signed_in(tenant, "alice@example.com")
    bob, _ = await signed_in(tenant, "bob@example.com")
    data = solo_file([solo_conversation(1), solo_conversation(2)])
    async with client(base, tenant, token) as http:
        answer = await http.post("/api/import", params={"name": "my chats.json"}, content=data)
    assert answer.status_code == 200, answer.text
    staged = answer.json()
    assert (staged["name"], staged["size"]) == ("my chats.json", len(data))
    with pytest.raises(ValidationError, match="not found"):
        transfers.claim_upload(bob, staged["id"])  # Bob cannot start Alice's staged file
    path = transfers.claim_upload(alice, staged["id"])
    result = await chat.import_file(alice, path)
    assert result.conversations == 2
    assert (await chat.list_conversations(bob)).items == ()


async def test_over_the_limit_is_413(base, tenant, monkeypatch) -> None:
    _, token = await signed_in(tenant, "alice@example.com")
    port = base.rsplit(":", 1)[1]
    head = (
        f"POST /api/import HTTP/1.1\r\nHost: {tenant.slug}.localhost:{port}\r\nCookie: solo_session={token}\r\n"
        f"Content-Length: {chat.MAX_IMPORT_BYTES + 1}\r\n\r\n"
    )
    elapsed, answer = await raw_request(base, head)
    assert answer.startswith(b"HTTP/1.1 413") and b"larger than 256 MB" in answer and elapsed < 3

    async def endless() -> AsyncIterator[bytes]:  # no Content-Length: the limit holds while streaming
        chunk = b" " * 2**20
        for _ in range(chat.MAX_IMPORT_BYTES // len(chunk) + 8):
            yield chunk

    async with client(base, tenant, token) as http:
        try:
            response = await http.post("/api/import", content=endless())
            assert response.status_code == 413 and "larger than 256 MB" in response.text
        except httpx.HTTPError:
            pass  # the server may close the connection while the client is still sending
    assert list((transfers._root("uploads")).iterdir()) == []  # the partial file is gone


async def test_cross_origin_and_foreign_tenant_are_refused(base, tenant, other_tenant) -> None:
    _, token = await signed_in(tenant, "alice@example.com")
    async with client(base, tenant, token) as http:
        answer = await http.post("/api/import", content=b"[]", headers={"origin": "https://evil.example"})
        assert answer.status_code == 403 and "own pages" in answer.text
        port = base.rsplit(":", 1)[1]
        same = await http.post(
            "/api/import", content=b"[]", headers={"origin": f"http://{tenant.slug}.localhost:{port}"}
        )
        assert same.status_code == 200
        empty = await http.post("/api/import", content=b"")
        assert empty.status_code == 400 and "empty" in empty.text
    async with client(base, other_tenant, token) as http:  # Alice's cookie means nothing in another tenant
        assert (await http.post("/api/import", content=b"[]")).status_code == 401


async def test_export_download_is_single_use_and_the_users_own(base, tenant) -> None:
    alice, token = await signed_in(tenant, "alice@example.com")
    _, bob_token = await signed_in(tenant, "bob@example.com")
    await chat.import_conversations(alice, solo_file([solo_conversation(i) for i in range(3)]))
    download, path = transfers.new_download(alice, "conversations.zip")
    assert await chat.write_archive(alice, path) == 3
    async with client(base, tenant) as http:
        assert (await http.get(f"/api/export/{download}")).status_code == 401
    async with client(base, tenant, bob_token) as http:
        assert (await http.get(f"/api/export/{download}")).status_code == 404
    async with client(base, tenant, token) as http:
        answer = await http.get(f"/api/export/{download}")
        assert answer.status_code == 200, (answer.headers, answer.text[:300])
        assert answer.headers["content-disposition"].startswith('attachment; filename="conversations.zip"')
        index = json.loads(zipfile.ZipFile(io.BytesIO(answer.content)).read("index.json"))
        assert len(index["conversations"]) == 3
        again = await http.get(f"/api/export/{download}")
        assert again.status_code == 404 and "Export again" in again.text
    for _ in range(50):  # deleted once sent
        if not path.parent.parent.joinpath(path.parent.name + ".sending").exists():
            break
        await asyncio.sleep(0.05)
    assert list(transfers._root("downloads").iterdir()) == []
