"""Adapter for the OpenAI Chat Completions API and everything that speaks it (xAI, Ollama, vLLM,
OpenRouter, LM Studio...), built on `openai.AsyncOpenAI` with the SDK's own retries turned off."""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncGenerator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, cast

import httpx2
import openai

from services.llm.base import (
    DEFAULT_CONNECT_TIMEOUT,
    DEFAULT_TIMEOUT,
    Provider,
    ProviderRequestError,
    ToolSpec,
    message_from_body,
    redact,
)
from services.llm.events import (
    ChatMessage,
    Event,
    Finish,
    FinishReason,
    ProviderError,
    TextDelta,
    ToolCall,
    Usage,
)
from services.llm.retry import RetryPolicy, is_retryable_status, parse_retry_after, should_retry_header

if TYPE_CHECKING:
    from openai.types.chat import (
        ChatCompletionChunk,
        ChatCompletionMessageParam,
        ChatCompletionToolUnionParam,
    )

logger = logging.getLogger(__name__)

OPENAI_BASE_URL = "https://api.openai.com/v1"
# Sent when an endpoint needs no key (Ollama, a local vLLM): the SDK refuses to start without one.
PLACEHOLDER_API_KEY = "not-needed"

_FINISH_REASONS: dict[str, FinishReason] = {
    "stop": "stop",
    "length": "length",
    "tool_calls": "tool_calls",
    "function_call": "tool_calls",
    "content_filter": "content_filter",
}
_RETRYABLE_STREAM_ERROR_TYPES = frozenset(
    {"server_error", "api_error", "overloaded_error", "rate_limit_error"}
)


def to_openai_messages(messages: Sequence[ChatMessage]) -> list[dict[str, Any]]:
    """Chat messages in the Chat Completions wire format."""
    out: list[dict[str, Any]] = []
    for message in messages:
        if message.role == "tool":
            out.append({"role": "tool", "tool_call_id": message.tool_call_id, "content": message.content})
        elif message.role == "assistant" and message.tool_calls:
            out.append(
                {
                    "role": "assistant",
                    "content": message.content or None,
                    "tool_calls": [
                        {
                            "id": call.id,
                            "type": "function",
                            "function": {"name": call.name, "arguments": call.arguments or "{}"},
                        }
                        for call in message.tool_calls
                    ],
                }
            )
        elif message.images:
            parts: list[dict[str, Any]] = (
                [{"type": "text", "text": message.content}] if message.content else []
            )
            parts += [
                {"type": "image_url", "image_url": {"url": f"data:{image.mime};base64,{image.data}"}}
                for image in message.images
            ]
            out.append({"role": message.role, "content": parts})
        else:
            out.append({"role": message.role, "content": message.content})
    return out


def to_openai_tools(tools: Sequence[ToolSpec]) -> list[dict[str, Any]]:
    return [
        {
            "type": "function",
            "function": {"name": t.name, "description": t.description, "parameters": t.parameters},
        }
        for t in tools
    ]


def error_from_openai_exception(exc: Exception) -> ProviderError:
    """Translate an exception raised by the OpenAI SDK (or anything else) into an error event."""
    if isinstance(exc, openai.APIStatusError):
        headers = exc.response.headers
        verdict = should_retry_header(headers)
        return ProviderError(
            message=message_from_body(exc.body, exc.message),
            status_code=exc.status_code,
            retryable=verdict if verdict is not None else is_retryable_status(exc.status_code),
            retry_after=parse_retry_after(headers),
        )
    if isinstance(exc, openai.APIConnectionError):  # includes APITimeoutError
        cause = exc.__cause__
        detail = f" ({type(cause).__name__}: {cause})" if cause is not None and str(cause) else ""
        return ProviderError(message=f"{exc.message}{detail}", retryable=True)
    if isinstance(exc, openai.APIError):  # an error event inside the stream
        body = exc.body
        kind = body.get("type") if isinstance(body, dict) else None
        return ProviderError(
            message=message_from_body(body, exc.message),
            retryable=kind in _RETRYABLE_STREAM_ERROR_TYPES,
        )
    if isinstance(exc, httpx2.TransportError):
        return ProviderError(message=f"Connection error. ({type(exc).__name__}: {exc})", retryable=True)
    if isinstance(exc, (openai.OpenAIError, httpx2.HTTPError)):
        return ProviderError(message=str(exc) or type(exc).__name__)
    logger.exception("unexpected error while talking to an OpenAI-compatible endpoint")
    return ProviderError(message=f"Unexpected error from the provider: {type(exc).__name__}: {exc}")


@dataclass
class _PendingToolCall:
    id: str = ""
    name: str = ""
    arguments: list[str] = field(default_factory=list)


class _ToolCallAssembler:
    """Joins streamed tool-call fragments by their `index`."""

    def __init__(self) -> None:
        self._calls: dict[int, _PendingToolCall] = {}

    def add(self, index: int | None, call_id: str | None, name: str | None, arguments: str | None) -> None:
        if index is None:  # some servers omit the index and send each call whole
            index = max(self._calls, default=-1) + 1
        pending = self._calls.setdefault(index, _PendingToolCall())
        if call_id and not pending.id:
            pending.id = call_id
        if name and not pending.name:
            pending.name = name
        if arguments:
            pending.arguments.append(arguments)

    def drain(self) -> list[ToolCall]:
        calls = [
            ToolCall(
                id=p.id or f"call_{uuid.uuid4().hex[:24]}",
                name=p.name,
                arguments="".join(p.arguments) or "{}",
            )
            for _, p in sorted(self._calls.items())
        ]
        self._calls.clear()
        return calls


class OpenAICompatibleProvider(Provider):
    """Streams chat completions from any OpenAI-compatible `/v1/chat/completions` endpoint.

    `max_tokens_param` names the request field that carries `max_tokens`: OpenAI's current models
    want `max_completion_tokens`; most other servers only know `max_tokens`.
    """

    def __init__(
        self,
        *,
        provider_id: str,
        label: str,
        api_key: str | None,
        base_url: str | None = None,
        models: Sequence[str] = (),
        retry: RetryPolicy | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        connect_timeout: float = DEFAULT_CONNECT_TIMEOUT,
        public_only: bool = False,
        max_tokens_param: Literal["max_tokens", "max_completion_tokens"] = "max_tokens",
    ) -> None:
        super().__init__(
            provider_id=provider_id, label=label, models=models, retry=retry, public_only=public_only
        )
        self.base_url = base_url or OPENAI_BASE_URL
        self.max_tokens_param = max_tokens_param
        # Everything explicit: the SDK would otherwise read OPENAI_API_KEY / OPENAI_BASE_URL itself.
        self._client = openai.AsyncOpenAI(
            api_key=api_key or PLACEHOLDER_API_KEY,
            base_url=self.base_url,
            max_retries=0,
            timeout=openai.Timeout(timeout, connect=connect_timeout),
            http_client=openai.DefaultAsyncHttpxClient(**self.http_client_kwargs()) if public_only else None,
        )

    async def _stream_once(
        self,
        model: str,
        messages: list[ChatMessage],
        tools: list[ToolSpec],
        temperature: float | None,
        max_tokens: int | None,
    ) -> AsyncGenerator[Event, None]:
        stream: openai.AsyncStream[ChatCompletionChunk] | None = None
        try:
            omit = openai.omit
            wire_tools = cast("list[ChatCompletionToolUnionParam]", to_openai_tools(tools))
            limit = max_tokens if max_tokens is not None else omit
            by_completion = self.max_tokens_param == "max_completion_tokens"
            stream = await self._client.chat.completions.create(
                model=model,
                messages=cast("list[ChatCompletionMessageParam]", to_openai_messages(messages)),
                stream=True,
                stream_options={"include_usage": True},
                tools=wire_tools if wire_tools else omit,
                temperature=temperature if temperature is not None else omit,
                max_tokens=omit if by_completion else limit,
                max_completion_tokens=limit if by_completion else omit,
            )
            assembler = _ToolCallAssembler()
            usage: Usage | None = None
            finish_raw: str | None = None
            saw_tool_call = False
            async for chunk in stream:
                if chunk.usage is not None:
                    usage = Usage(
                        prompt_tokens=chunk.usage.prompt_tokens or 0,
                        completion_tokens=chunk.usage.completion_tokens or 0,
                    )
                for choice in chunk.choices:
                    if choice.index != 0:
                        continue
                    delta = choice.delta
                    if delta is not None:
                        if delta.content:
                            yield TextDelta(delta.content)
                        if delta.refusal:
                            yield TextDelta(delta.refusal)
                        for fragment in delta.tool_calls or ():
                            function = fragment.function
                            assembler.add(
                                getattr(fragment, "index", None),
                                fragment.id,
                                function.name if function is not None else None,
                                function.arguments if function is not None else None,
                            )
                    if choice.finish_reason is not None:
                        finish_raw = choice.finish_reason
                        for call in assembler.drain():
                            saw_tool_call = True
                            yield call
            if finish_raw is None:
                yield ProviderError(message="The stream ended before the model finished.", retryable=True)
                return
            for call in assembler.drain():  # calls announced after the finish chunk, if any
                saw_tool_call = True
                yield call
            if usage is not None:
                yield usage
            reason = _FINISH_REASONS.get(finish_raw, "other")
            if saw_tool_call and reason == "stop":
                reason = "tool_calls"
            yield Finish(reason=reason, raw=finish_raw)
        except (openai.OpenAIError, httpx2.HTTPError) as exc:  # every failure becomes the stream's last event
            yield error_from_openai_exception(exc)
        except Exception as exc:
            logger.exception("unexpected error while streaming from %s", self.id)
            yield ProviderError(message=f"Unexpected error from the provider: {type(exc).__name__}: {exc}")
        finally:
            if stream is not None:
                await stream.close()

    async def list_models(self) -> list[str]:
        try:
            ids = [model.id async for model in self._client.models.list()]
        except (openai.OpenAIError, httpx2.HTTPError) as exc:
            error = error_from_openai_exception(exc)
            if self.public_only:
                error = redact(error)
            if self.models:
                logger.warning(
                    "listing models of %s failed (%s); using the configured list", self.id, error.message
                )
                return list(self.models)
            raise ProviderRequestError(error) from exc
        return sorted(set(ids)) if ids else list(self.models)

    async def aclose(self) -> None:
        await self._client.close()
