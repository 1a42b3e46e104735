"""Which providers exist, from plain configuration values.

Environment variables read by `providers_from_env`:

* `OPENAI_API_KEY`, optional `OPENAI_BASE_URL`, optional `OPENAI_MODELS` (comma separated);
* `ANTHROPIC_API_KEY`, optional `ANTHROPIC_BASE_URL`, optional `ANTHROPIC_MODELS`;
* `XAI_API_KEY`, optional `XAI_BASE_URL` (default https://api.x.ai/v1), optional `XAI_MODELS`;
* `LLM_ENDPOINTS`: a JSON list of extra OpenAI-compatible endpoints (Ollama, vLLM, OpenRouter...):
  `[{"id": "ollama", "label": "Ollama", "base_url": "http://127.0.0.1:11434/v1",
  "api_key": "optional", "models": ["llama3.1"]}]`. `id` and `base_url` are required; `label`
  defaults to the id, `api_key` to none, `models` to the endpoint's own list; `"kind": "anthropic"`
  marks an Anthropic-compatible endpoint.

With nothing configured the list is empty: the app then explains how to configure a provider.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, TypeAlias, get_args

from services.llm.base import DEFAULT_TIMEOUT, Provider
from services.llm.retry import RetryPolicy

ProviderKind: TypeAlias = Literal["openai", "anthropic", "openai_compatible"]
PROVIDER_KINDS: tuple[str, ...] = get_args(ProviderKind)

XAI_BASE_URL = "https://api.x.ai/v1"
_ID_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}$")
_ENDPOINT_FIELDS = frozenset({"id", "label", "base_url", "api_key", "models", "kind"})


class ProviderConfigError(ValueError):
    """The provider configuration (environment, LLM_ENDPOINTS) is invalid; the message says how."""


@dataclass(frozen=True, slots=True)
class ProviderConfig:
    """One configured provider. `api_key` is kept out of `repr` so it never lands in a log."""

    id: str
    kind: ProviderKind
    label: str
    api_key: str | None = field(default=None, repr=False)
    base_url: str | None = None
    models: list[str] = field(default_factory=list)
    public_only: bool = False  # a tenant's own provider (see services/netguard.py)

    def __post_init__(self) -> None:
        if self.kind not in PROVIDER_KINDS:
            raise ProviderConfigError(
                f"provider {self.id!r}: unknown kind {self.kind!r} (expected one of {PROVIDER_KINDS})"
            )
        if not _ID_PATTERN.match(self.id):
            raise ProviderConfigError(
                f"provider id {self.id!r} must be 1-64 lowercase letters, digits, '.', '_' or '-'"
            )


def _value(environ: Mapping[str, str], name: str) -> str | None:
    raw = environ.get(name)
    if raw is None:
        return None
    raw = raw.strip()
    return raw or None


def _model_list(environ: Mapping[str, str], name: str) -> list[str]:
    raw = _value(environ, name)
    if raw is None:
        return []
    return [m.strip() for m in raw.split(",") if m.strip()]


def _check_url(where: str, url: str) -> str:
    if not url.startswith(("http://", "https://")):
        raise ProviderConfigError(f"{where}: base_url must start with http:// or https://, got {url!r}")
    return url.rstrip("/")


def _check_unique(configs: list[ProviderConfig]) -> None:
    seen: set[str] = set()
    for config in configs:
        if config.id in seen:
            raise ProviderConfigError(
                f"two providers share the id {config.id!r}; give each LLM_ENDPOINTS entry its own id"
            )
        seen.add(config.id)


def parse_llm_endpoints(raw: str) -> list[ProviderConfig]:
    """Parse the `LLM_ENDPOINTS` JSON; raises `ProviderConfigError` (a ValueError) naming the problem."""
    try:
        data: Any = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ProviderConfigError(
            f"LLM_ENDPOINTS is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
        ) from exc
    if not isinstance(data, list):
        raise ProviderConfigError(
            'LLM_ENDPOINTS must be a JSON list of objects like [{"id": ..., "base_url": ...}]'
        )
    configs: list[ProviderConfig] = []
    for position, item in enumerate(data):
        where = f"LLM_ENDPOINTS[{position}]"
        if not isinstance(item, dict):
            raise ProviderConfigError(f"{where} must be an object, got {type(item).__name__}")
        unknown = sorted(set(item) - _ENDPOINT_FIELDS)
        if unknown:
            raise ProviderConfigError(
                f"{where} has unknown field(s) {', '.join(unknown)}; allowed: {sorted(_ENDPOINT_FIELDS)}"
            )
        for required in ("id", "base_url"):
            value = item.get(required)
            if not isinstance(value, str) or not value.strip():
                raise ProviderConfigError(f"{where} is missing {required!r} (a non-empty string)")
        endpoint_id = item["id"].strip()
        where = f"LLM_ENDPOINTS[{position}] ({endpoint_id})"
        label = item.get("label", endpoint_id)
        if not isinstance(label, str) or not label.strip():
            raise ProviderConfigError(f"{where}: 'label' must be a non-empty string")
        api_key = item.get("api_key")
        if api_key is not None and not isinstance(api_key, str):
            raise ProviderConfigError(f"{where}: 'api_key' must be a string")
        models = item.get("models", [])
        if not isinstance(models, list) or not all(isinstance(m, str) and m.strip() for m in models):
            raise ProviderConfigError(f"{where}: 'models' must be a list of model names")
        kind = item.get("kind", "openai_compatible")
        if kind not in ("openai_compatible", "anthropic"):
            raise ProviderConfigError(
                f"{where}: 'kind' must be 'openai_compatible' or 'anthropic', got {kind!r}"
            )
        configs.append(
            ProviderConfig(
                id=endpoint_id,
                kind=kind,
                label=label.strip(),
                api_key=(api_key or "").strip() or None,
                base_url=_check_url(where, item["base_url"].strip()),
                models=[m.strip() for m in models],
            )
        )
    _check_unique(configs)
    return configs


# (environment prefix, provider id, kind, label, default base URL: None means the SDK's own)
_ENV_PROVIDERS: tuple[tuple[str, str, ProviderKind, str, str | None], ...] = (
    ("OPENAI", "openai", "openai", "OpenAI", None),
    ("ANTHROPIC", "anthropic", "anthropic", "Anthropic", None),
    ("XAI", "xai", "openai_compatible", "xAI", XAI_BASE_URL),
)


def providers_from_env(environ: Mapping[str, str]) -> list[ProviderConfig]:
    """The providers configured in `environ` (pass `os.environ` or a settings-derived mapping)."""
    configs: list[ProviderConfig] = []
    for prefix, provider_id, kind, label, default_url in _ENV_PROVIDERS:
        api_key = _value(environ, f"{prefix}_API_KEY")
        if not api_key:
            continue
        base_url = _value(environ, f"{prefix}_BASE_URL") or default_url
        configs.append(
            ProviderConfig(
                id=provider_id,
                kind=kind,
                label=label,
                api_key=api_key,
                base_url=_check_url(f"{prefix}_BASE_URL", base_url) if base_url else None,
                models=_model_list(environ, f"{prefix}_MODELS"),
            )
        )
    endpoints = _value(environ, "LLM_ENDPOINTS")
    if endpoints:
        configs.extend(parse_llm_endpoints(endpoints))
    _check_unique(configs)
    return configs


def make_provider(
    config: ProviderConfig,
    *,
    retry: RetryPolicy | None = None,
    timeout: float = DEFAULT_TIMEOUT,
) -> Provider:
    """Build the adapter for `config`. The caller owns it and must `await provider.aclose()`."""
    # Imported here: each adapter imports its SDK, which costs seconds at start-up.
    if config.kind == "anthropic":
        from services.llm.anthropic_provider import AnthropicProvider

        return AnthropicProvider(
            provider_id=config.id,
            label=config.label,
            api_key=config.api_key,
            base_url=config.base_url,
            models=config.models,
            retry=retry,
            timeout=timeout,
            public_only=config.public_only,
        )
    from services.llm.openai_compat import OpenAICompatibleProvider

    return OpenAICompatibleProvider(
        provider_id=config.id,
        label=config.label,
        api_key=config.api_key,
        base_url=config.base_url,
        models=config.models,
        retry=retry,
        max_tokens_param="max_completion_tokens" if config.kind == "openai" else "max_tokens",
        timeout=timeout,
        public_only=config.public_only,
    )
