"""Which models a tenant's members may use.

Providers come from the server's environment (`providers_from_env`) and from the tenant's own settings
(`tenant_providers`, keys encrypted at rest). Models are listed from the provider where it offers a list,
else from configuration. A tenant's admins enable and disable models and pick the default; that choice
lives in `tenants.config["llm"]` as `{"disabled": ["provider/model", ...], "default": "provider/model"}`.
"""

from __future__ import annotations

import asyncio
import hashlib
import importlib
import logging
import os
import sys
import time
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete
from sqlalchemy.orm.attributes import flag_modified
from sqlmodel import col, select

from models import Tenant
from models.base import utcnow
from models.llm import TenantProvider
from services.auth.roles import require
from services.context import Ctx
from services.crypto import decrypt, encrypt, hint
from services.db import global_session, tenant_session
from services.errors import NotFound, ValidationError
from services.llm import Provider, ProviderRequestError
from services.llm.events import ProviderError
from services.llm.registry import (
    PROVIDER_KINDS,
    ProviderConfig,
    ProviderConfigError,
    make_provider,
    providers_from_env,
)
from services.netguard import check_public_url

log = logging.getLogger(__name__)
MODEL_LIST_TTL = 600.0
HOW_TO_CONFIGURE = (
    "No AI model is configured yet. A server operator sets OPENAI_API_KEY, ANTHROPIC_API_KEY, XAI_API_KEY or "
    "LLM_ENDPOINTS (any OpenAI-compatible server such as Ollama) and restarts the app; or an admin of this "
    "workspace adds a provider under Admin → Models."
)


@dataclass(frozen=True, slots=True)
class ModelChoice:
    key: str  # "provider/model"
    provider_id: str
    provider_label: str
    model: str
    enabled: bool


@dataclass(frozen=True, slots=True)
class ProviderSummary:
    id: str
    label: str
    kind: str
    base_url: str
    source: str  # "server" | "workspace"
    key_hint: str
    models: list[str]
    error: str = ""


@dataclass(frozen=True, slots=True)
class Catalog:
    providers: list[ProviderSummary]
    models: list[ModelChoice]
    default: str | None  # a key of an enabled model, or None when there is none

    @property
    def enabled(self) -> list[ModelChoice]:
        return [m for m in self.models if m.enabled]


def model_key(provider_id: str, model: str) -> str:
    return f"{provider_id}/{model}"


def split_key(key: str) -> tuple[str, str]:
    provider_id, _, model = key.partition("/")
    if not provider_id or not model:
        raise ValidationError("Choose a model.")
    return provider_id, model


# Provider instances are reused (they hold HTTP connection pools) per configuration fingerprint. A
# workspace's providers are its own (keyed with its id), so they can be closed when it changes them.
_providers: dict[str, Provider] = {}
_workspace_keys: dict[tuple[uuid.UUID, str], set[str]] = {}
_closing: set[asyncio.Task[None]] = set()
RETIRE_AFTER = 120.0  # seconds a replaced client stays open for replies already streaming through it
_model_lists: dict[str, tuple[float, list[str], str]] = {}
_env_cache: tuple[tuple[tuple[str, str], ...], list[ProviderConfig]] | None = None


def _fingerprint(cfg: ProviderConfig, owner: uuid.UUID | None = None) -> str:
    raw = f"{owner}|{cfg.id}|{cfg.kind}|{cfg.base_url}|{cfg.api_key}|{','.join(cfg.models)}|{cfg.public_only}"
    return hashlib.sha256(raw.encode()).hexdigest()


def server_providers() -> list[ProviderConfig]:
    """Providers from the environment (parsed once per distinct environment)."""
    global _env_cache
    relevant = tuple(
        sorted(
            (k, v)
            for k, v in os.environ.items()
            if k.startswith(("OPENAI_", "ANTHROPIC_", "XAI_")) or k == "LLM_ENDPOINTS"
        )
    )
    if _env_cache is None or _env_cache[0] != relevant:
        try:
            configs = providers_from_env(dict(relevant))
        except ProviderConfigError as exc:
            log.error("ignoring the model provider configuration: %s", exc)
            configs = []
        _env_cache = (relevant, configs)
    return _env_cache[1]


async def _workspace_rows(tenant_id: uuid.UUID) -> list[TenantProvider]:
    async with tenant_session(tenant_id) as session:
        rows = await session.exec(select(TenantProvider).order_by(col(TenantProvider.created_at)))
        return list(rows.all())


def _workspace_config(row: TenantProvider) -> ProviderConfig:
    return ProviderConfig(
        id=row.provider_id,
        kind=row.kind,  # type: ignore[arg-type]
        label=row.label,
        api_key=decrypt(row.api_key_encrypted) if row.api_key_encrypted else None,
        base_url=row.base_url,
        models=list(row.models),
        public_only=True,
    )


async def _configs(
    tenant_id: uuid.UUID, broken: list[ProviderSummary] | None = None
) -> list[tuple[ProviderConfig, str, str, uuid.UUID | None]]:
    """(config, source, key hint, owner); a workspace provider with the same id as a server one replaces it.
    With `broken`, a workspace provider whose key no longer decrypts is reported there instead of raising."""
    rows = await _workspace_rows(tenant_id)
    own = {r.provider_id: r for r in rows}
    out: list[tuple[ProviderConfig, str, str, uuid.UUID | None]] = [
        (cfg, "server", hint(cfg.api_key) if cfg.api_key else "", None)
        for cfg in server_providers()
        if cfg.id not in own
    ]
    for r in rows:
        try:
            out.append((_workspace_config(r), "workspace", r.key_hint, tenant_id))
        except ValueError:
            if broken is None:
                raise
            message = f"The API key of {r.label} cannot be decrypted (was SOLO_SECRET_KEY changed?): enter it again."
            broken.append(
                ProviderSummary(
                    r.provider_id, r.label, r.kind, r.base_url or "", "workspace", r.key_hint, [], message
                )
            )
    return out


def _provider(cfg: ProviderConfig, owner: uuid.UUID | None = None) -> Provider:
    key = _fingerprint(cfg, owner)
    provider = _providers.get(key)
    if provider is None:
        provider = make_provider(cfg)
        _providers[key] = provider
        if owner is not None:
            _workspace_keys.setdefault((owner, cfg.id), set()).add(key)
    return provider


async def _close_later(provider: Provider, delay: float) -> None:
    await asyncio.sleep(delay)
    try:
        await provider.aclose()
    except Exception:  # closing is best effort; the pool is dropped either way
        log.warning("closing a replaced provider client failed", exc_info=True)


def _retire(tenant_id: uuid.UUID, provider_id: str) -> None:
    """A workspace changed or removed a provider: drop its clients and close them once replies already
    streaming through them have had time to finish."""
    for key in _workspace_keys.pop((tenant_id, provider_id), set()):
        _model_lists.pop(key, None)
        provider = _providers.pop(key, None)
        if provider is not None:
            task = asyncio.get_running_loop().create_task(_close_later(provider, RETIRE_AFTER))
            _closing.add(task)
            task.add_done_callback(_closing.discard)


async def _models_of(cfg: ProviderConfig, owner: uuid.UUID | None = None) -> tuple[list[str], str]:
    """Configured models, else the provider's own list (cached); ([], error) when it cannot be read."""
    if cfg.models:
        return list(cfg.models), ""
    key = _fingerprint(cfg, owner)
    cached = _model_lists.get(key)
    if cached and time.monotonic() - cached[0] < MODEL_LIST_TTL:
        return cached[1], cached[2]
    try:
        models, error = sorted(await asyncio.wait_for(_provider(cfg, owner).list_models(), 10)), ""
    except ProviderRequestError as exc:
        models, error = [], f"Could not list the models of {cfg.label}: {exc.error.message}"
    except TimeoutError:
        models, error = [], f"{cfg.label} did not answer with its list of models in time."
    _model_lists[key] = (time.monotonic(), models, error)
    return models, error


async def _llm_settings(tenant_id: uuid.UUID) -> dict[str, Any]:
    async with global_session() as session:
        tenant = await session.get(Tenant, tenant_id)
        if tenant is None:
            raise NotFound("This workspace no longer exists.")
        return dict((tenant.config or {}).get("llm") or {})


async def catalog(ctx: Ctx) -> Catalog:
    require(ctx, "workspace.use")
    settings = await _llm_settings(ctx.tenant_id)
    disabled = set(settings.get("disabled") or [])
    broken: list[ProviderSummary] = []
    configs = await _configs(ctx.tenant_id, broken)
    listed = await asyncio.gather(*(_models_of(cfg, owner) for cfg, _, _, owner in configs))
    providers: list[ProviderSummary] = list(broken)
    models: list[ModelChoice] = []
    for (cfg, source, key_hint, _), (names, error) in zip(configs, listed, strict=True):
        providers.append(
            ProviderSummary(cfg.id, cfg.label, cfg.kind, cfg.base_url or "", source, key_hint, names, error)
        )
        models += [
            ModelChoice(model_key(cfg.id, m), cfg.id, cfg.label, m, model_key(cfg.id, m) not in disabled)
            for m in names
        ]
    enabled = [m.key for m in models if m.enabled]
    default = settings.get("default")
    if default not in enabled:
        default = enabled[0] if enabled else None
    return Catalog(providers, models, default)


RESOLVE_TTL = 5.0  # seconds an admin's change may take to reach a running reply path on another worker
_resolved: dict[tuple[uuid.UUID, str], tuple[float, tuple[Provider, str, str]]] = {}


def _forget(tenant_id: uuid.UUID) -> None:
    for cached in [k for k in _resolved if k[0] == tenant_id]:
        _resolved.pop(cached, None)


async def provider_for(ctx: Ctx, key: str) -> tuple[Provider, str, str]:
    """The provider instance, model name and provider label for an enabled model key (checked, then cached
    for a few seconds: this sits on the path to every first token)."""
    require(ctx, "workspace.use")
    hit = _resolved.get((ctx.tenant_id, key))
    if hit is not None and time.monotonic() - hit[0] < RESOLVE_TTL:
        return hit[1]
    result = await _resolve(ctx, key)
    if len(_resolved) > 10_000:
        _resolved.clear()
    _resolved[(ctx.tenant_id, key)] = (time.monotonic(), result)
    return result


async def _resolve(ctx: Ctx, key: str) -> tuple[Provider, str, str]:
    provider_id, model = split_key(key)
    settings = await _llm_settings(ctx.tenant_id)
    if key in set(settings.get("disabled") or []):
        raise ValidationError(f"The model {model} is turned off in this workspace. Choose another.")
    for cfg, _, _, owner in await _configs(ctx.tenant_id):
        if cfg.id == provider_id:
            names, _ = await _models_of(cfg, owner)
            if names and model not in names:
                raise ValidationError(f"{cfg.label} does not offer the model {model}. Choose another.")
            return _provider(cfg, owner), model, cfg.label
    raise ValidationError(f"The provider '{provider_id}' is not configured any more. Choose another model.")


# Admin -------------------------------------------------------------------------------------------------


async def _update_llm_settings(ctx: Ctx, **changes: Any) -> None:
    async with global_session() as session:
        tenant = await session.get(Tenant, ctx.tenant_id, with_for_update=True)
        if tenant is None:
            raise NotFound("This workspace no longer exists.")
        config = dict(tenant.config or {})
        llm = dict(config.get("llm") or {})
        llm.update(changes)
        config["llm"] = llm
        tenant.config = config
        flag_modified(tenant, "config")
        session.add(tenant)
    _forget(ctx.tenant_id)


async def set_model_enabled(ctx: Ctx, key: str, enabled: bool) -> None:
    require(ctx, "models.manage")
    split_key(key)
    disabled = set((await _llm_settings(ctx.tenant_id)).get("disabled") or [])
    (disabled.discard if enabled else disabled.add)(key)
    await _update_llm_settings(ctx, disabled=sorted(disabled))


async def set_default_model(ctx: Ctx, key: str) -> None:
    require(ctx, "models.manage")
    cat = await catalog(ctx)
    if key not in {m.key for m in cat.enabled}:
        raise ValidationError("The default must be one of the enabled models.")
    await _update_llm_settings(ctx, default=key)


class ProviderUnreachable(ValidationError):
    """The provider did not answer the check before saving; nothing was saved. `str()` says why in plain
    words; the admin may save it anyway (a provider that is down for a while)."""

    def __init__(self, url: str, reason: str, *, hint: str = "Check the address and key.") -> None:
        super().__init__(f"Couldn't reach {url}: {reason}. {hint}")
        self.url = url
        self.reason = reason


CHECK_TIMEOUT = 10.0  # seconds the check before saving waits for the provider's list of models
_SDK_URLS = {"openai": "https://api.openai.com/v1", "anthropic": "https://api.anthropic.com"}


def _reason(error: ProviderError) -> tuple[str, str]:
    """(why, what to check) from a provider's (redacted) error, in plain words."""
    from services.netguard import NOT_PUBLIC

    status = error.status_code
    if NOT_PUBLIC in error.message or "not public" in error.message:
        return "it is not a public address", "A workspace's providers must be on the public internet."
    if status is None:
        return "no answer (the connection was refused or broke)", "Check the address and key."
    if status in (401, 403):
        return f"it refused the API key (HTTP {status})", "Check the key."
    if status == 404:
        return "nothing answers there (HTTP 404)", "Check the address (it often ends in /v1)."
    if status == 429:
        return "it is rate limiting requests (HTTP 429)", "Try again shortly, or save anyway."
    if status >= 500:
        return f"it had an error (HTTP {status})", "Try again shortly, or save anyway."
    return f"it refused the request (HTTP {status})", "Check the address and key."


async def check_provider(cfg: ProviderConfig) -> list[str]:
    """Ask the provider for its models with the configuration as it would be saved: the models it offers,
    or ProviderUnreachable. Runs outside any database transaction."""
    url = cfg.base_url or _SDK_URLS.get(cfg.kind, cfg.kind)
    adapter = "services.llm.anthropic_provider" if cfg.kind == "anthropic" else "services.llm.openai_compat"
    if adapter not in sys.modules:  # the first import of an SDK takes seconds: not on the event loop
        await asyncio.to_thread(importlib.import_module, adapter)
    probe = make_provider(
        ProviderConfig(
            id=cfg.id, kind=cfg.kind, label=cfg.label, api_key=cfg.api_key, base_url=cfg.base_url,
            public_only=True,
        ),
        timeout=CHECK_TIMEOUT,
    )  # fmt: skip
    try:
        return await asyncio.wait_for(probe.list_models(), CHECK_TIMEOUT)
    except ProviderRequestError as exc:
        reason, what = _reason(exc.error)
        raise ProviderUnreachable(url, reason, hint=what) from exc
    except TimeoutError as exc:
        raise ProviderUnreachable(url, f"no answer within {CHECK_TIMEOUT:.0f} seconds") from exc
    finally:
        await probe.aclose()


async def save_workspace_provider(
    ctx: Ctx, *, provider_id: str, kind: str, label: str, base_url: str = "", api_key: str = "",
    models: list[str] | None = None, check: bool = True,
) -> ProviderSummary:  # fmt: skip
    """Add or update a provider of this workspace. An empty api_key on update keeps the stored one.

    With `check` (the default) the provider must answer a request for its models first, with the address
    and key as given; otherwise nothing is saved and ProviderUnreachable says why. `check=False` saves a
    provider that is down for the moment ("Save anyway")."""
    require(ctx, "models.manage")
    provider_id = provider_id.strip().lower()
    if kind not in PROVIDER_KINDS:
        raise ValidationError(f"Kind must be one of: {', '.join(PROVIDER_KINDS)}.")
    base_url = base_url.strip()
    if kind == "openai_compatible" and not base_url:
        raise ValidationError(
            "An OpenAI-compatible endpoint needs its base URL (for example http://host:11434/v1)."
        )
    if base_url:
        await check_public_url(base_url)  # a tenant's URL: public servers only (SSRF)
    names = [m.strip() for m in (models or []) if m.strip()]
    label = label.strip() or provider_id
    try:
        cfg = ProviderConfig(id=provider_id, kind=kind, label=label)  # type: ignore[arg-type]
    except ProviderConfigError as exc:
        raise ValidationError(str(exc)) from exc
    if check:
        key = api_key.strip()
        if not key:  # an update that keeps the stored key is checked with that key
            async with tenant_session(ctx.tenant_id) as session:
                stored = (
                    await session.exec(
                        select(TenantProvider.api_key_encrypted).where(
                            TenantProvider.provider_id == provider_id
                        )
                    )
                ).first()
            try:
                key = decrypt(stored) if stored else ""
            except ValueError:
                key = ""
        await check_provider(ProviderConfig(cfg.id, cfg.kind, label, key or None, base_url or None))
    async with tenant_session(ctx.tenant_id) as session:
        row = (
            await session.exec(select(TenantProvider).where(TenantProvider.provider_id == provider_id))
        ).first()
        if row is None:
            row = TenantProvider(tenant_id=ctx.tenant_id, provider_id=provider_id, kind=kind, label=label)
        row.kind, row.label = kind, label
        row.base_url = base_url or None
        row.models = names
        if api_key.strip():
            row.api_key_encrypted = encrypt(api_key.strip())
            row.key_hint = hint(api_key.strip())
        row.updated_at = utcnow()
        session.add(row)
    _forget(ctx.tenant_id)
    _retire(ctx.tenant_id, provider_id)
    return ProviderSummary(provider_id, row.label, kind, base_url, "workspace", row.key_hint, names)


async def delete_workspace_provider(ctx: Ctx, provider_id: str) -> None:
    require(ctx, "models.manage")
    async with tenant_session(ctx.tenant_id) as session:
        result = await session.exec(
            delete(TenantProvider).where(col(TenantProvider.provider_id) == provider_id)
        )
        if not result.rowcount:
            raise NotFound(f"This workspace has no provider '{provider_id}'.")
    _forget(ctx.tenant_id)
    _retire(ctx.tenant_id, provider_id)
