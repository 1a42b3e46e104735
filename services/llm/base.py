"""The provider interface, tool specs and a helper that collects a whole reply."""

from __future__ import annotations

import abc
import asyncio
import random
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import aclosing
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Self

from services.llm.events import (
    ChatMessage,
    Event,
    Finish,
    ProviderError,
    TextDelta,
    ToolCall,
    Usage,
)
from services.llm.retry import RetryPolicy, stream_with_retries

DEFAULT_TIMEOUT = 120.0
DEFAULT_CONNECT_TIMEOUT = 10.0


class ProviderRequestError(Exception):
    """A non-streaming request (such as listing models) failed; `error` says how."""

    def __init__(self, error: ProviderError) -> None:
        super().__init__(error.message)
        self.error = error


@dataclass(frozen=True, slots=True)
class ToolSpec:
    """A tool the model may call: a name, a description and a JSON Schema for its arguments."""

    name: str
    description: str
    parameters: dict[str, Any]


def normalize_tool(tool: Mapping[str, Any]) -> ToolSpec:
    """Accept the neutral form `{"name", "description", "parameters"}`, the OpenAI form
    `{"type": "function", "function": {...}}` or the Anthropic form `{"name", "description",
    "input_schema"}`."""
    spec: Mapping[str, Any] = tool
    if tool.get("type") == "function" and isinstance(tool.get("function"), Mapping):
        spec = tool["function"]
    name = spec.get("name")
    if not isinstance(name, str) or not name:
        raise ValueError(f"tool has no name: {dict(tool)!r}")
    params = spec.get("parameters", spec.get("input_schema"))
    if params is None:
        params = {"type": "object", "properties": {}}
    if not isinstance(params, Mapping):
        raise TypeError(f"tool {name!r}: parameters must be a JSON Schema object")
    description = spec.get("description") or ""
    return ToolSpec(name=name, description=str(description), parameters=dict(params))


class Provider(abc.ABC):
    """A chat model provider.

    `stream_chat` yields normalized events (see `services.llm.events`) and never raises for provider
    failures: they arrive as a final `ProviderError` event. It retries (per `retry`) only before the
    first content event. Close the stream when you stop early, so the HTTP request ends at once:

        async with contextlib.aclosing(provider.stream_chat(model, messages)) as events:
            async for event in events:
                ...

    Cancelling the task that iterates also closes the HTTP stream.
    """

    def __init__(
        self,
        *,
        provider_id: str,
        label: str,
        models: Sequence[str] = (),
        retry: RetryPolicy | None = None,
        public_only: bool = False,
    ) -> None:
        self.id = provider_id
        # A tenant's own provider: connect to public addresses only, and show errors without the body.
        self.public_only = public_only
        self.label = label
        self.models: list[str] = list(models)
        self.retry = retry or RetryPolicy()
        # Seams for tests; production uses the defaults.
        self._sleep: Callable[[float], Awaitable[object]] = asyncio.sleep
        self._rand: Callable[[], float] = random.random

    async def stream_chat(
        self,
        model: str,
        messages: list[ChatMessage],
        *,
        tools: list[dict[str, Any]] | None = None,
        temperature: float | None = None,
        max_tokens: int | None = None,
    ) -> AsyncGenerator[Event, None]:
        if not messages:
            raise ValueError("stream_chat needs at least one message")
        specs = [normalize_tool(t) for t in tools] if tools else []

        def attempt() -> AsyncGenerator[Event, None]:
            return self._stream_once(model, messages, specs, temperature, max_tokens)

        async with aclosing(
            stream_with_retries(attempt, self.retry, sleep=self._sleep, rand=self._rand)
        ) as events:
            async for event in events:
                yield redact(event) if self.public_only and isinstance(event, ProviderError) else event

    def http_client_kwargs(self) -> dict[str, Any]:
        """Extra arguments for the SDK client: the public-only transport for a tenant's provider."""
        if not self.public_only:
            return {}
        from services.netguard import PublicOnlyTransport

        return {"transport": PublicOnlyTransport()}

    @abc.abstractmethod
    def _stream_once(
        self,
        model: str,
        messages: list[ChatMessage],
        tools: list[ToolSpec],
        temperature: float | None,
        max_tokens: int | None,
    ) -> AsyncGenerator[Event, None]:
        """One attempt: an async generator that yields events and turns failures into a final
        `ProviderError` (it must close its HTTP stream in `finally`)."""

    @abc.abstractmethod
    async def list_models(self) -> list[str]:
        """Model ids the endpoint offers; the configured models when it cannot list them.

        Raises `ProviderRequestError` when the endpoint fails and no models are configured."""

    @abc.abstractmethod
    async def aclose(self) -> None:
        """Close the HTTP client."""

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()


@dataclass(slots=True)
class Reply:
    """A whole reply, collected from a stream."""

    text: str = ""
    tool_calls: list[ToolCall] = field(default_factory=list)
    usage: Usage | None = None
    finish: Finish | None = None
    error: ProviderError | None = None

    @property
    def ok(self) -> bool:
        return self.error is None and self.finish is not None


async def collect_reply(events: AsyncIterator[Event]) -> Reply:
    """Consume a stream (closing it) and return the text, tool calls, usage, finish and error."""
    reply = Reply()
    parts: list[str] = []
    try:
        async for event in events:
            if isinstance(event, TextDelta):
                parts.append(event.text)
            elif isinstance(event, ToolCall):
                reply.tool_calls.append(event)
            elif isinstance(event, Usage):
                reply.usage = event
            elif isinstance(event, Finish):
                reply.finish = event
            elif isinstance(event, ProviderError):
                reply.error = event
    finally:
        if isinstance(events, AsyncGenerator):
            await events.aclose()
    reply.text = "".join(parts)
    return reply


def redact(error: ProviderError) -> ProviderError:
    """The error of a tenant-configured endpoint, told without anything from its response body (which
    could come from a server the tenant should not read through us)."""
    from services.netguard import NOT_PUBLIC

    status = error.status_code
    if NOT_PUBLIC in error.message:
        message = (
            "The provider's address is not public (private, loopback or link-local); a workspace's own "
            "providers must use public addresses."
        )
        return ProviderError(message=message, status_code=status, retryable=False)
    if status is None:
        message = "Could not connect to the provider, or the connection broke. Check its base URL."
    elif status in (401, 403):
        message = f"The provider refused the request (HTTP {status}): check the API key."
    elif status == 404:
        message = "The provider answered HTTP 404: check the base URL and the model name."
    elif status == 429:
        message = "The provider is rate limiting requests (HTTP 429). Try again shortly."
    elif status >= 500:
        message = f"The provider had an error (HTTP {status}). Try again."
    else:
        message = f"The provider refused the request (HTTP {status})."
    return ProviderError(
        message=message, status_code=status, retryable=error.retryable, retry_after=error.retry_after
    )


def message_from_body(body: object, fallback: str) -> str:
    """The human-readable message of an API error body (`{"error": {"message": ...}}` and the like)."""
    node: object = body
    for _ in range(3):
        if isinstance(node, Mapping):
            message = node.get("message")
            if isinstance(message, str) and message.strip():
                return message.strip()
            node = node.get("error")
        elif isinstance(node, str) and node.strip():
            text = " ".join(node.split())
            return text if len(text) <= 300 else text[:299] + "\u2026"
        else:
            break
    return fallback
