"""Embeddings through the real `openai` SDK against the loopback fake: batches, sizes, retries, errors, and which
model a tenant uses (the server's environment, or the workspace's own choice)."""

from __future__ import annotations

import math
import uuid
from collections.abc import Iterator

import pytest

from services import ai_catalog
from services.config import get_settings
from services.context import Ctx
from services.errors import PermissionDenied, ValidationError
from services.knowledge.embed import (
    EmbeddingError,
    EmbeddingsConfig,
    embed,
    embeddings_config,
    set_embeddings,
)
from tests.fakes.llm_server import FakeLLMServer, fake_embedding


@pytest.fixture(autouse=True)
def _no_server_providers(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (
        "OPENAI_API_KEY", "OPENAI_BASE_URL", "ANTHROPIC_API_KEY", "XAI_API_KEY", "LLM_ENDPOINTS",
        "SOLO_OUTBOUND_ALLOW", "EMBEDDINGS_PROVIDER", "EMBEDDINGS_MODEL", "EMBEDDINGS_DIM",
    ):  # fmt: skip
        monkeypatch.delenv(name, raising=False)
    get_settings.cache_clear()


@pytest.fixture
def server() -> Iterator[FakeLLMServer]:
    with FakeLLMServer() as fake:
        yield fake


def local(
    server: FakeLLMServer, *, dim: int = 64, kind: str = "openai_compatible", key: str = "k"
) -> EmbeddingsConfig:
    return EmbeddingsConfig(
        provider_id="local", label="Local", base_url=server.openai_base_url, api_key=key, model="fake-embed",
        dim=dim, kind=kind,
    )  # fmt: skip


def cosine(a: list[float], b: list[float]) -> float:
    return sum(x * y for x, y in zip(a, b, strict=True)) / math.sqrt(
        sum(x * x for x in a) * sum(y * y for y in b)
    )


def admin(tenant_id: uuid.UUID, role: str = "admin") -> Ctx:
    return Ctx(tenant_id=tenant_id, user_id=uuid.uuid4(), role=role)


async def test_embeds_in_batches_in_order(server: FakeLLMServer) -> None:
    texts = [
        "the cat sat on the mat",
        "a cat on a mat",
        "quarterly revenue grew",
        "",
        "revenue in the quarter",
    ]
    vectors = await embed(local(server), texts, batch=2)
    sent = [r.body for r in server.embedding_requests()]
    assert [len(b["input"]) for b in sent] == [2, 2, 1]
    assert [t for b in sent for t in b["input"]] == [*texts[:3], " ", texts[4]]  # a blank text is sent as " "
    assert all(b["model"] == "fake-embed" and "dimensions" not in b for b in sent)  # not OpenAI itself
    assert all(b["encoding_format"] == "float" for b in sent)
    assert [len(v) for v in vectors] == [64] * 5
    assert vectors[0] == pytest.approx(fake_embedding(texts[0], 64))
    assert cosine(vectors[0], vectors[1]) > cosine(vectors[0], vectors[2])  # in order, as the fake made them
    assert await embed(local(server), []) == []
    assert len(server.embedding_requests()) == 3


async def test_dimensions_are_sent_to_openai_and_checked(server: FakeLLMServer) -> None:
    vectors = await embed(local(server, dim=256, kind="openai"), ["hello world"])
    assert len(vectors[0]) == 256 and server.embedding_requests()[-1].body["dimensions"] == 256

    # An OpenAI-compatible server is not asked for a size; one that differs from the configured one is refused.
    with pytest.raises(EmbeddingError) as caught:
        await embed(local(server, dim=384), ["hello world"])
    assert not caught.value.retryable
    assert str(caught.value) == (
        "The embeddings model fake-embed returned vectors of 64 numbers, but 384 are expected: set the embeddings "
        "dimension to 64 under Admin → Models, or choose a model that gives 384."
    )
    assert len(await embed(local(server, dim=0), ["any size"])) == 1


async def test_retries_server_errors_then_succeeds(server: FakeLLMServer) -> None:
    server.configure(error_status=500, error_count=2)
    assert len(await embed(local(server), ["one", "two"])) == 2
    assert len(server.embedding_requests()) == 3

    server.configure(error_status=429, error_count=1, retry_after="0")
    assert len(await embed(local(server), ["three"])) == 1

    server.configure(error_status=503, error_count=None, retry_after=None)
    before = len(server.embedding_requests())
    with pytest.raises(EmbeddingError) as caught:
        await embed(local(server), ["four"])
    assert caught.value.retryable and caught.value.status_code == 503
    assert (
        str(caught.value) == "The embeddings provider Local had an error (HTTP 503); it is tried again later."
    )
    assert len(server.embedding_requests()) - before == 3


async def test_a_refused_key_is_not_retried(server: FakeLLMServer) -> None:
    server.configure(api_key="the-right-key")
    with pytest.raises(EmbeddingError) as caught:
        await embed(local(server, key="wrong"), ["hello"])
    assert not caught.value.retryable and caught.value.status_code == 401
    assert str(caught.value) == (
        "The embeddings provider Local refused the API key (HTTP 401): check the key under Admin → Models."
    )
    assert len(server.embedding_requests()) == 1
    assert len(await embed(local(server, key="the-right-key"), ["hello"])) == 1


async def test_an_unreachable_provider_is_retryable() -> None:
    with FakeLLMServer() as gone:
        cfg = local(gone)
    with pytest.raises(EmbeddingError, match="could not be reached") as caught:
        await embed(cfg, ["hello"])
    assert caught.value.retryable and caught.value.status_code is None


async def test_config_from_the_server_environment(tenant, server: FakeLLMServer, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    assert await embeddings_config(tenant.id) is None
    monkeypatch.setenv("OPENAI_API_KEY", "sk-server")
    monkeypatch.setenv("OPENAI_BASE_URL", server.openai_base_url)
    monkeypatch.setenv("EMBEDDINGS_PROVIDER", "openai")
    get_settings.cache_clear()
    assert await embeddings_config(tenant.id) is None  # no model named
    monkeypatch.setenv("EMBEDDINGS_MODEL", "text-embedding-3-small")
    monkeypatch.setenv("EMBEDDINGS_DIM", "512")
    get_settings.cache_clear()
    cfg = await embeddings_config(tenant.id)
    assert cfg is not None
    assert (cfg.provider_id, cfg.kind, cfg.model, cfg.dim, cfg.public_only) == (
        "openai", "openai", "text-embedding-3-small", 512, False,
    )  # fmt: skip
    assert cfg.key == "openai/text-embedding-3-small" and "sk-server" not in repr(cfg)
    assert len((await embed(cfg, ["hi"]))[0]) == 512
    sent = server.embedding_requests()[-1]
    assert sent.headers["authorization"] == "Bearer sk-server" and sent.body["dimensions"] == 512

    monkeypatch.setenv("EMBEDDINGS_PROVIDER", "nobody")  # names no configured provider
    get_settings.cache_clear()
    assert await embeddings_config(tenant.id) is None


async def test_a_workspace_chooses_its_own_model(
    tenant, server: FakeLLMServer, loopback_allowed, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("LLM_ENDPOINTS", f'[{{"id": "srv", "base_url": "{server.openai_base_url}"}}]')
    monkeypatch.setenv("EMBEDDINGS_PROVIDER", "srv")
    monkeypatch.setenv("EMBEDDINGS_MODEL", "server-embed")
    get_settings.cache_clear()
    ctx = admin(tenant.id)
    await ai_catalog.save_workspace_provider(
        ctx, provider_id="mine", kind="openai_compatible", label="Mine", base_url=server.openai_base_url,
        api_key="sk-mine", check=False,
    )  # fmt: skip
    await ai_catalog.save_workspace_provider(
        ctx, provider_id="claude", kind="anthropic", label="Claude", api_key="x", check=False
    )

    with pytest.raises(PermissionDenied):
        await set_embeddings(admin(tenant.id, "member"), "mine", "my-embed", 0)
    with pytest.raises(ValidationError, match="no provider 'nope'"):
        await set_embeddings(ctx, "nope", "my-embed", 0)
    with pytest.raises(ValidationError, match="has no embeddings API"):
        await set_embeddings(ctx, "claude", "my-embed", 0)
    with pytest.raises(ValidationError, match="name of the embeddings model"):
        await set_embeddings(ctx, "mine", " ", 0)
    with pytest.raises(ValidationError, match="whole number"):
        await set_embeddings(ctx, "mine", "my-embed", -1)
    server.configure(error_status=401)
    with pytest.raises(ValidationError, match=r"refused the API key \(HTTP 401\).*Nothing was saved"):
        await set_embeddings(ctx, "mine", "my-embed", 0)
    server.configure(error_status=None)
    cfg = await embeddings_config(tenant.id)
    assert cfg is not None and (cfg.provider_id, cfg.model) == ("srv", "server-embed")

    await set_embeddings(ctx, "Mine", "my-embed", 0)  # checked: the size the model gives is kept
    cfg = await embeddings_config(tenant.id)
    assert cfg is not None
    assert (cfg.provider_id, cfg.label, cfg.model, cfg.dim, cfg.public_only) == (
        "mine",
        "Mine",
        "my-embed",
        64,
        True,
    )
    assert cfg.api_key == "sk-mine"
    assert server.embedding_requests()[-1].headers["authorization"] == "Bearer sk-mine"

    await set_embeddings(ctx, "", "", 0)  # back to the server's choice
    cfg = await embeddings_config(tenant.id)
    assert cfg is not None and cfg.provider_id == "srv"


async def test_a_workspace_provider_must_stay_public(tenant, server: FakeLLMServer, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Saved while the operator allowed loopback; once that is gone the connection itself is refused."""
    monkeypatch.setenv("SOLO_OUTBOUND_ALLOW", "127.0.0.0/8")
    get_settings.cache_clear()
    ctx = admin(tenant.id)
    await ai_catalog.save_workspace_provider(
        ctx, provider_id="mine", kind="openai_compatible", label="Mine", base_url=server.openai_base_url,
        api_key="sk-mine", check=False,
    )  # fmt: skip
    await set_embeddings(ctx, "mine", "my-embed", 64)
    monkeypatch.delenv("SOLO_OUTBOUND_ALLOW")
    get_settings.cache_clear()
    cfg = await embeddings_config(tenant.id)
    assert cfg is not None
    with pytest.raises(EmbeddingError, match="not at a public address") as caught:
        await embed(cfg, ["hello"])
    assert not caught.value.retryable
    assert server.embedding_requests()[-1].headers["authorization"] == "Bearer sk-mine"  # only the check's
    assert len(server.embedding_requests()) == 1
