"""The two admin settings of knowledge: which embeddings model a workspace uses (what Admin → Models shows,
`current_choice`) and its storage quota (`set_tenant_quota`, `usage`). Real Postgres, the fake provider's
/v1/embeddings through the real `openai` SDK."""

from __future__ import annotations

import uuid

import pytest

from services import ai_catalog
from services.config import get_settings
from services.context import Ctx
from services.errors import PermissionDenied, ValidationError
from services.files import records
from services.knowledge.embed import (
    EmbeddingsModel,
    current_choice,
    embeddings_config,
    set_embeddings,
)
from tests.fakes.llm_server import FakeLLMServer

MB = records.MB


def who(tenant_id: uuid.UUID, role: str = "admin") -> Ctx:
    return Ctx(tenant_id=tenant_id, user_id=uuid.uuid4(), role=role)


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, no_server_providers: None) -> pytest.MonkeyPatch:
    """No server providers and no server embeddings model; loopback allowed for the fake provider."""
    for name in ("EMBEDDINGS_PROVIDER", "EMBEDDINGS_MODEL", "EMBEDDINGS_DIM", "STORAGE_QUOTA_TENANT_MB"):
        monkeypatch.delenv(name, raising=False)
    get_settings.cache_clear()
    return monkeypatch


def serve_embeddings(monkeypatch: pytest.MonkeyPatch, llm: FakeLLMServer, provider: str = "srv") -> None:
    """The operator's choice: the fake as server provider "srv", EMBEDDINGS_PROVIDER=`provider`."""
    monkeypatch.setenv(
        "LLM_ENDPOINTS", f'[{{"id": "srv", "label": "Server AI", "base_url": "{llm.openai_base_url}"}}]'
    )
    monkeypatch.setenv("EMBEDDINGS_PROVIDER", provider)
    monkeypatch.setenv("EMBEDDINGS_MODEL", "server-embed")
    monkeypatch.setenv("EMBEDDINGS_DIM", "64")
    get_settings.cache_clear()


async def test_nothing_configured_is_keyword_only(tenant, clean_env) -> None:  # type: ignore[no-untyped-def]
    choice = await current_choice(who(tenant.id))
    assert (choice.source, choice.current, choice.server, choice.providers, choice.problem) == (
        "none", None, None, [], "",
    )  # fmt: skip


async def test_members_and_instructors_are_refused(tenant, clean_env) -> None:  # type: ignore[no-untyped-def]
    for role in ("member", "instructor"):
        with pytest.raises(PermissionDenied):
            await current_choice(who(tenant.id, role))
        with pytest.raises(PermissionDenied):
            await set_embeddings(who(tenant.id, role), "", "", 0)
        with pytest.raises(PermissionDenied):
            await records.set_tenant_quota(who(tenant.id, role), 5)
    assert (await current_choice(who(tenant.id, "owner"))).source == "none"


async def test_current_choice_follows_the_server_then_the_workspace(  # type: ignore[no-untyped-def]
    tenant, other_tenant, clean_env, llm: FakeLLMServer
) -> None:
    serve_embeddings(clean_env, llm)
    server = EmbeddingsModel("srv", "Server AI", "server-embed", 64)
    ctx = who(tenant.id)
    choice = await current_choice(ctx)
    assert (choice.source, choice.current, choice.server, choice.problem) == ("server", server, server, "")
    assert choice.providers == [("srv", "Server AI")]
    assert llm.embedding_requests() == []  # reading the choice asks no provider

    await ai_catalog.save_workspace_provider(
        ctx, provider_id="mine", kind="openai_compatible", label="Mine", base_url=llm.openai_base_url,
        api_key="sk-mine", check=False,
    )  # fmt: skip
    await ai_catalog.save_workspace_provider(
        ctx, provider_id="claude", kind="anthropic", label="Claude", api_key="x", check=False
    )
    assert (await current_choice(ctx)).providers == [("srv", "Server AI"), ("mine", "Mine")]  # no Anthropic

    await set_embeddings(ctx, "mine", "fake-embed", 0)  # checked once; the size the model gives is kept
    assert len(llm.embedding_requests()) == 1
    choice = await current_choice(ctx)
    assert (choice.source, choice.current, choice.server, choice.problem) == (
        "workspace", EmbeddingsModel("mine", "Mine", "fake-embed", 64), server, "",
    )  # fmt: skip
    cfg = await embeddings_config(tenant.id)
    assert cfg is not None and (cfg.provider_id, cfg.model, cfg.dim) == ("mine", "fake-embed", 64)

    # Another workspace sees neither the choice nor the provider.
    other = await current_choice(who(other_tenant.id))
    assert (other.source, other.current, other.providers) == ("server", server, [("srv", "Server AI")])

    # The chosen provider is removed: the choice stays, is not used, and says why.
    await ai_catalog.delete_workspace_provider(ctx, "mine")
    choice = await current_choice(ctx)
    assert (choice.source, choice.current) == ("workspace", None)
    assert choice.problem == "The embeddings provider 'mine' is not configured."
    assert await embeddings_config(tenant.id) is None

    await set_embeddings(ctx, "", "", 0)  # back to the server's choice
    choice = await current_choice(ctx)
    assert (choice.source, choice.current, choice.problem) == ("server", server, "")


async def test_a_failed_check_saves_nothing(tenant, clean_env, llm: FakeLLMServer) -> None:  # type: ignore[no-untyped-def]
    serve_embeddings(clean_env, llm)
    ctx = who(tenant.id)
    llm.configure(error_status=404, error_message="The model 'nope' does not exist")
    with pytest.raises(ValidationError) as caught:
        await set_embeddings(ctx, "srv", "nope", 0)
    assert str(caught.value) == (
        "The embeddings provider Server AI answered HTTP 404: check its base URL and the embeddings model name "
        "'nope'. Nothing was saved."
    )
    llm.configure(error_status=None)
    with pytest.raises(ValidationError, match="returned vectors of 64 numbers, but 384 are expected"):
        await set_embeddings(ctx, "srv", "fake-embed", 384)
    assert (await current_choice(ctx)).source == "server"


async def test_a_server_choice_naming_no_provider_says_so(tenant, clean_env, llm: FakeLLMServer) -> None:  # type: ignore[no-untyped-def]
    serve_embeddings(clean_env, llm, provider="nobody")
    choice = await current_choice(who(tenant.id))
    assert (choice.source, choice.current, choice.server) == ("none", None, None)
    assert choice.problem == "The embeddings provider 'nobody' is not configured."


async def test_admins_lower_the_storage_quota(tenant, other_tenant, clean_env) -> None:  # type: ignore[no-untyped-def]
    clean_env.setenv("STORAGE_QUOTA_TENANT_MB", "100")
    get_settings.cache_clear()
    ctx = who(tenant.id)
    assert (await records.usage(ctx)).tenant_quota == 100 * MB
    for wrong in (0, -5, 101):
        with pytest.raises(ValidationError, match="between 1 and 100 MB"):
            await records.set_tenant_quota(ctx, wrong)

    await records.set_tenant_quota(ctx, 5)
    assert (await records.usage(ctx)).tenant_quota == 5 * MB
    assert (await records.usage(who(other_tenant.id, "member"))).tenant_quota == 100 * MB
    await records.set_tenant_quota(who(tenant.id, "owner"), 7)
    assert (await records.usage(who(tenant.id, "member"))).tenant_quota == 7 * MB

    # The server's limit falling below the workspace's quota wins.
    clean_env.setenv("STORAGE_QUOTA_TENANT_MB", "6")
    get_settings.cache_clear()
    assert (await records.usage(ctx)).tenant_quota == 6 * MB
    clean_env.setenv("STORAGE_QUOTA_TENANT_MB", "100")
    get_settings.cache_clear()

    await records.set_tenant_quota(ctx, None)
    assert (await records.usage(ctx)).tenant_quota == 100 * MB


def test_storage_figures_read_as_mb() -> None:
    from state.workspace_storage import mb

    assert [mb(n) for n in (0, 1000, MB // 2, 12 * MB + MB // 2, 20480 * MB)] == [
        "0 MB", "under 0.1 MB", "0.5 MB", "12.5 MB", "20,480 MB",
    ]  # fmt: skip
