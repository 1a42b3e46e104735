"""Provider configuration from the environment, and building adapters from it."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from services.llm import (
    AnthropicProvider,
    ChatMessage,
    OpenAICompatibleProvider,
    ProviderConfig,
    RetryPolicy,
    collect_reply,
    make_provider,
    providers_from_env,
)
from services.llm.registry import XAI_BASE_URL, parse_llm_endpoints
from tests.fakes.llm_server import FakeLLMServer


@pytest.fixture(scope="module")
def server() -> Iterator[FakeLLMServer]:
    with FakeLLMServer() as fake:
        yield fake


def test_nothing_configured_gives_no_providers() -> None:
    assert providers_from_env({}) == []
    assert providers_from_env({"OPENAI_API_KEY": "   ", "ANTHROPIC_API_KEY": "", "LLM_ENDPOINTS": " "}) == []


def test_standard_providers_from_env() -> None:
    configs = providers_from_env(
        {
            "OPENAI_API_KEY": "sk-openai",
            "OPENAI_BASE_URL": "https://proxy.example.com/v1/",
            "ANTHROPIC_API_KEY": "sk-ant",
            "XAI_API_KEY": "xai-key",
            "UNRELATED": "x",
        }
    )
    assert configs == [
        ProviderConfig(
            id="openai",
            kind="openai",
            label="OpenAI",
            api_key="sk-openai",
            base_url="https://proxy.example.com/v1",
        ),
        ProviderConfig(id="anthropic", kind="anthropic", label="Anthropic", api_key="sk-ant", base_url=None),
        ProviderConfig(
            id="xai", kind="openai_compatible", label="xAI", api_key="xai-key", base_url="https://api.x.ai/v1"
        ),
    ]
    assert XAI_BASE_URL == "https://api.x.ai/v1"


def test_base_url_overrides_and_model_lists() -> None:
    (anthropic_cfg, xai_cfg) = providers_from_env(
        {
            "ANTHROPIC_API_KEY": "k",
            "ANTHROPIC_BASE_URL": "http://127.0.0.1:9999",
            "ANTHROPIC_MODELS": "claude-a, claude-b,,",
            "XAI_API_KEY": "k",
            "XAI_BASE_URL": "http://127.0.0.1:9998/v1",
        }
    )
    assert anthropic_cfg.base_url == "http://127.0.0.1:9999"
    assert anthropic_cfg.models == ["claude-a", "claude-b"]
    assert xai_cfg.base_url == "http://127.0.0.1:9998/v1"
    assert xai_cfg.models == []


def test_api_key_never_appears_in_repr() -> None:
    (config,) = providers_from_env({"OPENAI_API_KEY": "sk-very-secret"})
    assert "sk-very-secret" not in repr(config)


def test_llm_endpoints_are_parsed() -> None:
    endpoints = [
        {
            "id": "ollama",
            "label": "Ollama",
            "base_url": "http://127.0.0.1:11434/v1",
            "api_key": "optional",
            "models": ["llama3.1"],
        },
        {"id": "vllm", "base_url": "http://gpu-box:8000/v1"},
        {"id": "claude-proxy", "kind": "anthropic", "base_url": "https://llm.example.com", "api_key": "p"},
    ]
    configs = providers_from_env({"LLM_ENDPOINTS": json.dumps(endpoints)})
    assert configs == [
        ProviderConfig(
            id="ollama",
            kind="openai_compatible",
            label="Ollama",
            api_key="optional",
            base_url="http://127.0.0.1:11434/v1",
            models=["llama3.1"],
        ),
        ProviderConfig(id="vllm", kind="openai_compatible", label="vllm", base_url="http://gpu-box:8000/v1"),
        ProviderConfig(
            id="claude-proxy",
            kind="anthropic",
            label="claude-proxy",
            api_key="p",
            base_url="https://llm.example.com",
        ),
    ]
    assert configs[1].api_key is None


def test_llm_endpoints_follow_the_standard_providers() -> None:
    configs = providers_from_env(
        {
            "OPENAI_API_KEY": "k",
            "LLM_ENDPOINTS": '[{"id": "ollama", "base_url": "http://127.0.0.1:11434/v1"}]',
        }
    )
    assert [c.id for c in configs] == ["openai", "ollama"]


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("[{'id': 'x'}]", "LLM_ENDPOINTS is not valid JSON"),
        ('{"id": "x", "base_url": "http://h/v1"}', "must be a JSON list"),
        ('["http://h/v1"]', r"LLM_ENDPOINTS\[0\] must be an object"),
        ('[{"base_url": "http://h/v1"}]', r"LLM_ENDPOINTS\[0\] is missing 'id'"),
        (
            '[{"id": "a", "base_url": "http://h/v1"}, {"id": "b"}]',
            r"LLM_ENDPOINTS\[1\] is missing 'base_url'",
        ),
        ('[{"id": "a", "base_url": ""}]', "missing 'base_url'"),
        ('[{"id": "a", "base_url": "localhost:11434"}]', "must start with http:// or https://"),
        ('[{"id": "a", "base_url": "http://h/v1", "models": "llama3"}]', "'models' must be a list"),
        ('[{"id": "a", "base_url": "http://h/v1", "modles": ["x"]}]', "unknown field"),
        ('[{"id": "a", "base_url": "http://h/v1", "api_key": 5}]', "'api_key' must be a string"),
        ('[{"id": "a", "base_url": "http://h/v1", "kind": "gemini"}]', "'kind' must be"),
        ('[{"id": "My Endpoint", "base_url": "http://h/v1"}]', "lowercase letters"),
    ],
)
def test_llm_endpoints_errors_say_what_is_wrong(raw: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        providers_from_env({"LLM_ENDPOINTS": raw})


def test_duplicate_ids_are_rejected() -> None:
    with pytest.raises(ValueError, match="share the id 'openai'"):
        providers_from_env(
            {"OPENAI_API_KEY": "k", "LLM_ENDPOINTS": '[{"id": "openai", "base_url": "http://h/v1"}]'}
        )
    with pytest.raises(ValueError, match="share the id 'x'"):
        parse_llm_endpoints(
            '[{"id": "x", "base_url": "http://a/v1"}, {"id": "x", "base_url": "http://b/v1"}]'
        )


@pytest.mark.asyncio
async def test_make_provider_picks_the_adapter_and_ignores_ambient_env(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", "http://ambient.invalid/v1")
    monkeypatch.setenv("ANTHROPIC_BASE_URL", "http://ambient.invalid")
    openai_provider = make_provider(ProviderConfig(id="openai", kind="openai", label="OpenAI", api_key="k"))
    xai = make_provider(
        ProviderConfig(id="xai", kind="openai_compatible", label="xAI", api_key="k", base_url=XAI_BASE_URL)
    )
    claude = make_provider(ProviderConfig(id="anthropic", kind="anthropic", label="Anthropic", api_key="k"))
    try:
        assert isinstance(openai_provider, OpenAICompatibleProvider)
        assert openai_provider.base_url == "https://api.openai.com/v1"
        assert openai_provider.max_tokens_param == "max_completion_tokens"
        assert isinstance(xai, OpenAICompatibleProvider)
        assert xai.base_url == XAI_BASE_URL
        assert xai.max_tokens_param == "max_tokens"
        assert isinstance(claude, AnthropicProvider)
        assert claude.base_url == "https://api.anthropic.com"
        assert (claude.id, claude.label) == ("anthropic", "Anthropic")
    finally:
        for provider in (openai_provider, xai, claude):
            await provider.aclose()


def test_unknown_kind_is_rejected() -> None:
    with pytest.raises(ValueError, match="unknown kind"):
        ProviderConfig(id="x", kind="gemini", label="X")  # type: ignore[arg-type]


@pytest.mark.asyncio
async def test_configured_endpoints_stream_end_to_end(server: FakeLLMServer) -> None:
    server.reset()
    server.configure(reply="It works.")
    environ = {
        "LLM_ENDPOINTS": json.dumps(
            [
                {"id": "local", "label": "Local", "base_url": server.openai_base_url, "models": ["m"]},
                {
                    "id": "claude-local",
                    "kind": "anthropic",
                    "base_url": server.anthropic_base_url,
                    "api_key": "a",
                },
            ]
        )
    }
    replies = []
    for config in providers_from_env(environ):
        async with make_provider(config, retry=RetryPolicy(max_attempts=1), timeout=10) as provider:
            replies.append(await collect_reply(provider.stream_chat("m", [ChatMessage("user", "ping")])))
    assert [r.text for r in replies] == ["It works.", "It works."]
    assert all(r.ok for r in replies)
    assert [r.path for r in server.chat_requests()] == ["/v1/chat/completions", "/v1/messages"]
    # The keyless endpoint still gets a placeholder key: the SDK refuses to start without one.
    assert server.chat_requests()[0].headers["authorization"] == "Bearer not-needed"
