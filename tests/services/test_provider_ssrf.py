"""A tenant admin's provider URL cannot reach private addresses (SSRF), neither when saved nor at connect
time (DNS rebinding); its errors never echo response bodies; replaced clients are closed."""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from typing import Any

import pytest
from sqlalchemy import text

from models.llm import TenantProvider
from services import ai_catalog, netguard
from services.config import get_settings
from services.context import Ctx
from services.db import tenant_session
from services.errors import ValidationError
from services.llm import ChatMessage, collect_reply
from tests.conftest import password_user
from tests.fakes.llm_server import FakeLLMServer

PRIVATE_URLS = [
    "http://127.0.0.1:8080/v1",
    "http://localhost:11434/v1",
    "http://10.1.2.3/v1",
    "http://192.168.0.10/v1",
    "http://169.254.169.254/latest/meta-data",
    "http://[::1]:8000/v1",
    "http://[::ffff:127.0.0.1]/v1",
    "http://0.0.0.0:80/v1",
]


@pytest.fixture(autouse=True)
def _no_server_providers(monkeypatch):  # type: ignore[no-untyped-def]
    for name in (
        "OPENAI_API_KEY",
        "ANTHROPIC_API_KEY",
        "XAI_API_KEY",
        "LLM_ENDPOINTS",
        "SOLO_OUTBOUND_ALLOW",
    ):
        monkeypatch.delenv(name, raising=False)
    get_settings.cache_clear()


async def _owner(tctx) -> Ctx:  # type: ignore[no-untyped-def]
    user = await password_user(
        tctx, email=f"o-{uuid.uuid4().hex[:6]}@example.com", password="a good long password"
    )
    return Ctx(tenant_id=tctx.tenant_id, user_id=user.id, role="owner")


@pytest.mark.parametrize("url", PRIVATE_URLS)
async def test_private_addresses_are_refused_when_saved(tctx, url: str) -> None:
    owner = await _owner(tctx)
    with pytest.raises(ValidationError, match="public server"):
        await ai_catalog.save_workspace_provider(
            owner, provider_id="p", kind="openai_compatible", label="P", base_url=url, api_key="k" * 20
        )


def test_public_addresses_pass_and_the_operator_can_allow_a_network(monkeypatch) -> None:
    assert netguard.is_public_ip("8.8.8.8") and netguard.is_public_ip("2606:4700:4700::1111")
    assert not netguard.is_public_ip("100.64.0.1")  # carrier-grade NAT
    assert not netguard.is_public_ip("fd00::1")
    monkeypatch.setenv("SOLO_OUTBOUND_ALLOW", "10.20.0.0/16")
    get_settings.cache_clear()
    assert netguard.is_public_ip("10.20.3.4") and not netguard.is_public_ip("10.21.0.1")


async def _stored_provider(tctx, base_url: str) -> None:  # type: ignore[no-untyped-def]
    """A provider row whose URL passed the save-time check (say, DNS answered a public address then)."""
    async with tenant_session(tctx.tenant_id) as session:
        session.add(
            TenantProvider(
                tenant_id=tctx.tenant_id,
                provider_id="rebound",
                kind="openai_compatible",
                label="Rebound",
                base_url=base_url,
                models=["m"],
            )
        )


async def test_a_private_address_is_refused_at_connect_time(tctx) -> None:
    owner = await _owner(tctx)
    with FakeLLMServer() as server:
        await _stored_provider(tctx, server.openai_base_url)
        provider, model, _ = await ai_catalog.provider_for(owner, "rebound/m")
        provider.retry = dataclasses.replace(provider.retry, max_attempts=1)
        reply = await collect_reply(provider.stream_chat(model, [ChatMessage(role="user", content="hi")]))
        assert reply.error is not None and "not public" in reply.error.message
        assert server.requests == []  # nothing reached the loopback server


async def test_workspace_provider_errors_do_not_echo_the_body(tctx, monkeypatch) -> None:
    monkeypatch.setenv("SOLO_OUTBOUND_ALLOW", "127.0.0.0/8")
    get_settings.cache_clear()
    owner = await _owner(tctx)
    with FakeLLMServer() as server:
        server.configure(error_status=401, error_message="internal-db-password=hunter2")
        await _stored_provider(tctx, server.openai_base_url)
        provider, model, _ = await ai_catalog.provider_for(owner, "rebound/m")
        reply = await collect_reply(provider.stream_chat(model, [ChatMessage(role="user", content="hi")]))
        assert reply.error is not None and reply.error.status_code == 401
        assert "hunter2" not in reply.error.message and "API key" in reply.error.message
        assert len(server.chat_requests()) == 1  # allowed by the operator, so it was really asked


async def test_a_replaced_provider_client_is_closed(tctx, monkeypatch) -> None:
    monkeypatch.setenv("SOLO_OUTBOUND_ALLOW", "127.0.0.0/8")
    get_settings.cache_clear()
    monkeypatch.setattr(ai_catalog, "RETIRE_AFTER", 0.0)
    owner = await _owner(tctx)
    with FakeLLMServer() as server:
        save: dict[str, Any] = dict(
            provider_id="mine", kind="openai_compatible", label="Mine", base_url=server.openai_base_url
        )
        await ai_catalog.save_workspace_provider(owner, **save, api_key="first-key-123456", models=["m"])
        old, _, _ = await ai_catalog.provider_for(owner, "mine/m")
        await ai_catalog.save_workspace_provider(owner, **save, api_key="second-key-654321", models=["m"])
        new, _, _ = await ai_catalog.provider_for(owner, "mine/m")
        assert new is not old
        for _ in range(50):
            if old._client.is_closed():  # type: ignore[attr-defined]
                break
            await asyncio.sleep(0.01)
        assert old._client.is_closed()  # type: ignore[attr-defined]
        assert not new._client.is_closed()  # type: ignore[attr-defined]
        async with tenant_session(tctx.tenant_id) as session:
            assert (await session.execute(text("SELECT count(*) FROM tenant_providers"))).scalar_one() == 1


async def test_a_key_that_no_longer_decrypts_is_reported_not_raised(tctx, monkeypatch) -> None:
    """The model picker (and so the chat page) still loads; the admin page says what to do."""
    monkeypatch.setenv("SOLO_OUTBOUND_ALLOW", "127.0.0.0/8")
    get_settings.cache_clear()
    owner = await _owner(tctx)
    await _stored_provider(tctx, "http://127.0.0.1:9/v1")
    async with tenant_session(tctx.tenant_id) as session:
        await session.execute(text("UPDATE tenant_providers SET api_key_encrypted = 'not-a-fernet-token'"))
    cat = await ai_catalog.catalog(owner)
    assert cat.models == [] and "cannot be decrypted" in cat.providers[0].error
