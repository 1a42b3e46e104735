"""Chat model providers behind one streaming interface.

    from contextlib import aclosing
    from services.llm import ChatMessage, TextDelta, make_provider, providers_from_env

    configs = providers_from_env(os.environ)      # [] when nothing is configured
    provider = make_provider(configs[0])
    async with aclosing(provider.stream_chat(model, [ChatMessage("user", "Hi")])) as events:
        async for event in events:                 # TextDelta | ToolCall | Usage | Finish | ProviderError
            ...
    await provider.aclose()

This package is pure async Python: it must not import reflex, app, state or components.
"""

from typing import TYPE_CHECKING, Any

from services.llm.base import (
    Provider,
    ProviderRequestError,
    Reply,
    ToolSpec,
    collect_reply,
    normalize_tool,
)
from services.llm.events import (
    ChatMessage,
    ContentEvent,
    Event,
    Finish,
    FinishReason,
    ImagePart,
    ProviderError,
    Role,
    TextDelta,
    ToolCall,
    Usage,
)
from services.llm.registry import (
    ProviderConfig,
    ProviderConfigError,
    ProviderKind,
    make_provider,
    parse_llm_endpoints,
    providers_from_env,
)
from services.llm.retry import NO_RETRY, RetryPolicy, stream_with_retries

if TYPE_CHECKING:
    from services.llm.anthropic_provider import AnthropicProvider
    from services.llm.openai_compat import OpenAICompatibleProvider


def __getattr__(name: str) -> Any:
    """The adapters import their SDKs (seconds of CPU): loaded when first used, not at app start."""
    if name == "AnthropicProvider":
        from services.llm.anthropic_provider import AnthropicProvider

        return AnthropicProvider
    if name == "OpenAICompatibleProvider":
        from services.llm.openai_compat import OpenAICompatibleProvider

        return OpenAICompatibleProvider
    raise AttributeError(name)


__all__ = [
    "NO_RETRY",
    "AnthropicProvider",
    "ChatMessage",
    "ContentEvent",
    "Event",
    "Finish",
    "FinishReason",
    "ImagePart",
    "OpenAICompatibleProvider",
    "Provider",
    "ProviderConfig",
    "ProviderConfigError",
    "ProviderError",
    "ProviderKind",
    "ProviderRequestError",
    "Reply",
    "RetryPolicy",
    "Role",
    "TextDelta",
    "ToolCall",
    "ToolSpec",
    "Usage",
    "collect_reply",
    "make_provider",
    "normalize_tool",
    "parse_llm_endpoints",
    "providers_from_env",
    "stream_with_retries",
]
