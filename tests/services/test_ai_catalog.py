"""The model catalog: server and workspace providers, encrypted keys, enabling models, the default, and who
may change them. Model lists come from a real (fake) provider over HTTP."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import text

from services import ai_catalog
from services.context import Ctx
from services.db import tenant_session
from services.errors import PermissionDenied, ValidationError
from tests.conftest import first_owner, join
from tests.fakes.llm_server import FakeLLMServer


async def _users(tctx):  # type: ignore[no-untyped-def]
    owner = await first_owner(tctx, email="owner@example.com", password="a good long password")
    member = await join(tctx, email="member@example.com", password="a good long password")
    return (
        Ctx(tenant_id=tctx.tenant_id, user_id=owner.id, role=owner.role),
        Ctx(tenant_id=tctx.tenant_id, user_id=member.id, role=member.role),
    )


@pytest.fixture
def no_server_providers(monkeypatch):  # type: ignore[no-untyped-def]
    for name in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "XAI_API_KEY", "LLM_ENDPOINTS"):
        monkeypatch.delenv(name, raising=False)


async def test_nothing_configured_explains_how(tctx, no_server_providers) -> None:
    owner, _ = await _users(tctx)
    cat = await ai_catalog.catalog(owner)
    assert cat.models == [] and cat.default is None
    assert "OPENAI_API_KEY" in ai_catalog.HOW_TO_CONFIGURE
    with pytest.raises(ValidationError):
        await ai_catalog.provider_for(owner, "openai/gpt-4o")


async def test_server_provider_models_come_from_the_provider(tctx, monkeypatch) -> None:
    owner, member = await _users(tctx)
    with FakeLLMServer() as server:
        server.configure(models=["alpha", "beta"])
        monkeypatch.setenv("LLM_ENDPOINTS", f'[{{"id": "local", "base_url": "{server.openai_base_url}"}}]')
        cat = await ai_catalog.catalog(member)
        assert [m.key for m in cat.models] == ["local/alpha", "local/beta"]
        assert cat.default == "local/alpha"
        _provider, model, label = await ai_catalog.provider_for(member, "local/beta")
        assert model == "beta" and label == "local"
        with pytest.raises(ValidationError, match="does not offer"):
            await ai_catalog.provider_for(member, "local/gamma")

        with pytest.raises(PermissionDenied):
            await ai_catalog.set_model_enabled(member, "local/alpha", False)
        await ai_catalog.set_model_enabled(owner, "local/alpha", False)
        cat = await ai_catalog.catalog(member)
        assert [m.key for m in cat.enabled] == ["local/beta"] and cat.default == "local/beta"
        with pytest.raises(ValidationError, match="turned off"):
            await ai_catalog.provider_for(member, "local/alpha")
        with pytest.raises(ValidationError, match="enabled"):
            await ai_catalog.set_default_model(owner, "local/alpha")
        await ai_catalog.set_model_enabled(owner, "local/alpha", True)
        await ai_catalog.set_default_model(owner, "local/alpha")
        assert (await ai_catalog.catalog(member)).default == "local/alpha"


async def test_workspace_provider_key_is_encrypted_and_never_returned(
    tctx, no_server_providers, loopback_allowed
) -> None:
    owner, member = await _users(tctx)
    secret = "sk-test-" + "x" * 24 + "WXYZ"
    with FakeLLMServer() as server:
        server.configure(api_key=secret, models=["m1"])
        with pytest.raises(PermissionDenied):
            await ai_catalog.save_workspace_provider(
                member,
                provider_id="mine",
                kind="openai_compatible",
                label="Mine",
                base_url=server.openai_base_url,
                api_key=secret,
            )
        summary = await ai_catalog.save_workspace_provider(
            owner,
            provider_id="mine",
            kind="openai_compatible",
            label="Mine",
            base_url=server.openai_base_url,
            api_key=secret,
        )
        assert summary.key_hint == "…WXYZ" and secret not in repr(summary)
        async with tenant_session(tctx.tenant_id) as session:
            stored = (
                await session.execute(text("SELECT api_key_encrypted FROM tenant_providers"))
            ).scalar_one()
        assert secret not in stored
        # The key works: the provider answers the models request only with it.
        cat = await ai_catalog.catalog(member)
        assert [m.key for m in cat.models] == ["mine/m1"]
        assert cat.providers[0].source == "workspace" and cat.providers[0].error == ""
        # Updating without a key keeps the stored one.
        await ai_catalog.save_workspace_provider(
            owner,
            provider_id="mine",
            kind="openai_compatible",
            label="Renamed",
            base_url=server.openai_base_url,
            models=["m1"],
        )
        provider, _model, label = await ai_catalog.provider_for(member, "mine/m1")
        assert label == "Renamed" and await provider.list_models() == ["m1"]
        await ai_catalog.delete_workspace_provider(owner, "mine")
        assert (await ai_catalog.catalog(member)).models == []


async def test_bad_provider_input_is_refused(tctx, no_server_providers) -> None:
    owner, _ = await _users(tctx)
    with pytest.raises(ValidationError, match="base URL"):
        await ai_catalog.save_workspace_provider(owner, provider_id="x", kind="openai_compatible", label="X")
    with pytest.raises(ValidationError, match="Kind"):
        await ai_catalog.save_workspace_provider(owner, provider_id="x", kind="gemini", label="X")
    with pytest.raises(ValidationError):
        await ai_catalog.save_workspace_provider(owner, provider_id="Bad Id!", kind="openai", label="X")


async def test_other_tenants_cannot_see_a_workspace_provider(
    tctx, other_tenant, no_server_providers, loopback_allowed
) -> None:
    from services.context import TenantCtx

    owner, _ = await _users(tctx)
    await ai_catalog.save_workspace_provider(
        owner,
        provider_id="private",
        kind="openai_compatible",
        label="Private",
        base_url="http://127.0.0.1:9/v1",
        models=["p"],
        check=False,
    )
    other = await first_owner(
        TenantCtx(tenant_id=other_tenant.id, ip="192.0.2.1"),
        email="o@example.com",
        password="a good long password",
    )
    octx = Ctx(tenant_id=other_tenant.id, user_id=other.id, role=other.role)
    assert (await ai_catalog.catalog(octx)).models == []
    with pytest.raises(ValidationError):
        await ai_catalog.provider_for(octx, "private/p")


async def _provider_count(tenant_id) -> int:  # type: ignore[no-untyped-def]
    async with tenant_session(tenant_id) as session:
        return int((await session.execute(text("SELECT count(*) FROM tenant_providers"))).scalar_one())


async def test_a_provider_that_cannot_be_reached_is_not_saved_unless_asked(
    tctx, no_server_providers, loopback_allowed
) -> None:
    owner, _ = await _users(tctx)
    dead = "http://127.0.0.1:9/v1"  # the discard port: nothing listens
    with pytest.raises(ai_catalog.ProviderUnreachable) as caught:
        await ai_catalog.save_workspace_provider(
            owner, provider_id="dead", kind="openai_compatible", label="Dead", base_url=dead, models=["x"]
        )
    assert str(caught.value) == (
        f"Couldn't reach {dead}: no answer (the connection was refused or broke). Check the address and key."
    )
    assert await _provider_count(tctx.tenant_id) == 0
    # "Save anyway": a provider that is down for a while.
    await ai_catalog.save_workspace_provider(
        owner, provider_id="dead", kind="openai_compatible", label="Dead", base_url=dead, models=["x"],
        check=False,
    )  # fmt: skip
    assert await _provider_count(tctx.tenant_id) == 1


async def test_the_check_before_saving_uses_the_key_given_or_the_stored_one(
    tctx, no_server_providers, loopback_allowed
) -> None:
    owner, _ = await _users(tctx)
    with FakeLLMServer() as server:
        server.configure(api_key="sk-right-key-1234", models=["m1"], error_message="secret-body")
        save: dict[str, Any] = dict(
            provider_id="mine", kind="openai_compatible", label="Mine", base_url=server.openai_base_url
        )
        with pytest.raises(ai_catalog.ProviderUnreachable, match="refused the API key") as caught:
            await ai_catalog.save_workspace_provider(owner, **save, api_key="sk-wrong-key-0000")
        assert "Check the key." in str(caught.value) and "secret-body" not in str(caught.value)
        assert await _provider_count(tctx.tenant_id) == 0
        await ai_catalog.save_workspace_provider(owner, **save, api_key="sk-right-key-1234")
        # An update without a key is checked with the stored key, and passes.
        await ai_catalog.save_workspace_provider(owner, **{**save, "label": "Renamed"})
        assert (await ai_catalog.catalog(owner)).providers[0].label == "Renamed"
