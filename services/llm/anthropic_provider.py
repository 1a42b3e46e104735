"""Adapter for the Anthropic Messages API, built on `anthropic.AsyncAnthropic` with the SDK's own
retries turned off."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncGenerator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast

import anthropic
import httpx2
from anthropic.types import (
    InputJSONDelta,
    RawContentBlockDeltaEvent,
    RawContentBlockStartEvent,
    RawContentBlockStopEvent,
    RawMessageDeltaEvent,
    RawMessageStartEvent,
    RawMessageStopEvent,
    TextBlock,
    ToolUseBlock,
)
from anthropic.types import TextDelta as AnthropicTextDelta

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
    from anthropic.types import MessageParam, RawMessageStreamEvent, ToolUnionParam

logger = logging.getLogger(__name__)

ANTHROPIC_BASE_URL = "https://api.anthropic.com"
PLACEHOLDER_API_KEY = "not-needed"
DEFAULT_MAX_TOKENS = 8192

_FINISH_REASONS: dict[str, FinishReason] = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "tool_use": "tool_calls",
    "refusal": "content_filter",
}
_RETRYABLE_ERROR_TYPES = frozenset({"overloaded_error", "api_error", "rate_limit_error", "timeout_error"})


def _tool_input(arguments: str) -> dict[str, Any]:
    try:
        value = json.loads(arguments or "{}")
    except json.JSONDecodeError:
        return {"_invalid_json": arguments}
    return value if isinstance(value, dict) else {"value": value}


def to_anthropic_messages(messages: Sequence[ChatMessage]) -> tuple[str | None, list[dict[str, Any]]]:
    """The `system` prompt (all system messages joined) and the Messages API `messages` list.

    Tool results become `tool_result` blocks of a user turn, assistant tool calls `tool_use` blocks;
    consecutive turns of the same role are merged, as the API wants alternating roles.
    """
    system_parts: list[str] = []
    turns: list[dict[str, Any]] = []

    def push(role: str, blocks: list[dict[str, Any]]) -> None:
        if not blocks:
            return
        if turns and turns[-1]["role"] == role:
            turns[-1]["content"].extend(blocks)
        else:
            turns.append({"role": role, "content": blocks})

    for message in messages:
        if message.role == "system":
            if message.content.strip():
                system_parts.append(message.content)
        elif message.role == "user":
            images = [
                {"type": "image", "source": {"type": "base64", "media_type": i.mime, "data": i.data}}
                for i in message.images
            ]
            push("user", images + ([{"type": "text", "text": message.content}] if message.content else []))
        elif message.role == "tool":
            push(
                "user",
                [{"type": "tool_result", "tool_use_id": message.tool_call_id, "content": message.content}],
            )
        else:
            blocks: list[dict[str, Any]] = (
                [{"type": "text", "text": message.content}] if message.content else []
            )
            blocks.extend(
                {"type": "tool_use", "id": call.id, "name": call.name, "input": _tool_input(call.arguments)}
                for call in message.tool_calls
            )
            push("assistant", blocks)
    system = "\n\n".join(system_parts) if system_parts else None
    return system, turns


def to_anthropic_tools(tools: Sequence[ToolSpec]) -> list[dict[str, Any]]:
    return [{"name": t.name, "description": t.description, "input_schema": t.parameters} for t in tools]


def error_from_anthropic_exception(exc: Exception) -> ProviderError:
    """Translate an exception raised by the Anthropic SDK or its HTTP layer into an error event."""
    if isinstance(exc, anthropic.APIStatusError):
        body = exc.body
        error = body.get("error") if isinstance(body, dict) else None
        kind = error.get("type") if isinstance(error, dict) else None
        message = message_from_body(body, exc.message)
        if exc.status_code < 400:  # an `error` event inside a 200 stream
            return ProviderError(message=message, retryable=kind in _RETRYABLE_ERROR_TYPES)
        headers = exc.response.headers
        verdict = should_retry_header(headers)
        return ProviderError(
            message=message,
            status_code=exc.status_code,
            retryable=verdict if verdict is not None else is_retryable_status(exc.status_code),
            retry_after=parse_retry_after(headers),
        )
    if isinstance(exc, anthropic.APIConnectionError):  # includes APITimeoutError
        cause = exc.__cause__
        detail = f" ({type(cause).__name__}: {cause})" if cause is not None and str(cause) else ""
        return ProviderError(message=f"{exc.message}{detail}", retryable=True)
    if isinstance(exc, httpx2.TransportError):  # the stream broke while reading
        return ProviderError(message=f"Connection error. ({type(exc).__name__}: {exc})", retryable=True)
    if isinstance(exc, (anthropic.AnthropicError, httpx2.HTTPError)):
        return ProviderError(message=str(exc) or type(exc).__name__)
    logger.exception("unexpected error while talking to an Anthropic endpoint")
    return ProviderError(message=f"Unexpected error from the provider: {type(exc).__name__}: {exc}")


@dataclass
class _PendingToolUse:
    id: str
    name: str
    initial_input: dict[str, Any]
    parts: list[str] = field(default_factory=list)

    def complete(self) -> ToolCall:
        arguments = "".join(self.parts)
        if not arguments.strip():
            arguments = json.dumps(self.initial_input)
        return ToolCall(id=self.id, name=self.name, arguments=arguments)


class AnthropicProvider(Provider):
    """Streams replies from the Anthropic Messages API (`/v1/messages`).

    `temperature` is accepted for interface compatibility but not sent: the installed SDK's
    `messages.create` has no such parameter any more (the current models choose their own sampling).
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
        default_max_tokens: int = DEFAULT_MAX_TOKENS,
    ) -> None:
        super().__init__(
            provider_id=provider_id, label=label, models=models, retry=retry, public_only=public_only
        )
        self.base_url = base_url or ANTHROPIC_BASE_URL
        self.default_max_tokens = default_max_tokens
        # Everything explicit: the SDK would otherwise look for credentials in the environment.
        self._client = anthropic.AsyncAnthropic(
            api_key=api_key or PLACEHOLDER_API_KEY,
            base_url=self.base_url,
            max_retries=0,
            timeout=anthropic.Timeout(timeout, connect=connect_timeout),
            http_client=anthropic.DefaultAsyncHttpxClient(**self.http_client_kwargs())
            if public_only
            else None,
        )

    async def _stream_once(
        self,
        model: str,
        messages: list[ChatMessage],
        tools: list[ToolSpec],
        temperature: float | None,
        max_tokens: int | None,
    ) -> AsyncGenerator[Event, None]:
        stream: anthropic.AsyncStream[RawMessageStreamEvent] | None = None
        try:
            system, turns = to_anthropic_messages(messages)
            stream = await self._client.messages.create(
                model=model,
                max_tokens=max_tokens if max_tokens is not None else self.default_max_tokens,
                messages=cast("list[MessageParam]", turns),
                system=system if system is not None else anthropic.omit,
                tools=cast("list[ToolUnionParam]", to_anthropic_tools(tools)) if tools else anthropic.omit,
                stream=True,
            )
            pending: dict[int, _PendingToolUse] = {}
            prompt_tokens: int | None = None
            completion_tokens: int | None = None
            stop_raw: str | None = None
            stopped = False
            async for event in stream:
                if isinstance(event, RawContentBlockDeltaEvent):
                    delta = event.delta
                    if isinstance(delta, AnthropicTextDelta):
                        if delta.text:
                            yield TextDelta(delta.text)
                    elif isinstance(delta, InputJSONDelta):
                        tool = pending.get(event.index)
                        if tool is not None:
                            tool.parts.append(delta.partial_json)
                elif isinstance(event, RawContentBlockStartEvent):
                    block = event.content_block
                    if isinstance(block, ToolUseBlock):
                        pending[event.index] = _PendingToolUse(block.id, block.name, dict(block.input or {}))
                    elif isinstance(block, TextBlock) and block.text:
                        yield TextDelta(block.text)
                elif isinstance(event, RawContentBlockStopEvent):
                    tool = pending.pop(event.index, None)
                    if tool is not None:
                        yield tool.complete()
                elif isinstance(event, RawMessageStartEvent):
                    usage = event.message.usage
                    prompt_tokens = (
                        usage.input_tokens
                        + (usage.cache_creation_input_tokens or 0)
                        + (usage.cache_read_input_tokens or 0)
                    )
                    completion_tokens = usage.output_tokens
                elif isinstance(event, RawMessageDeltaEvent):
                    if event.delta.stop_reason is not None:
                        stop_raw = event.delta.stop_reason
                    delta_usage = event.usage
                    completion_tokens = delta_usage.output_tokens
                    if delta_usage.input_tokens is not None:
                        prompt_tokens = (
                            delta_usage.input_tokens
                            + (delta_usage.cache_creation_input_tokens or 0)
                            + (delta_usage.cache_read_input_tokens or 0)
                        )
                elif isinstance(event, RawMessageStopEvent):
                    stopped = True
            if not stopped and stop_raw is None:
                yield ProviderError(message="The stream ended before the model finished.", retryable=True)
                return
            for index in sorted(pending):  # blocks the server never closed
                yield pending[index].complete()
            if prompt_tokens is not None or completion_tokens is not None:
                yield Usage(prompt_tokens=prompt_tokens or 0, completion_tokens=completion_tokens or 0)
            raw = stop_raw or "end_turn"
            yield Finish(reason=_FINISH_REASONS.get(raw, "other"), raw=raw)
        except (
            anthropic.AnthropicError,
            httpx2.HTTPError,
        ) as exc:  # every failure becomes the stream's last event
            yield error_from_anthropic_exception(exc)
        except Exception as exc:
            logger.exception("unexpected error while streaming from %s", self.id)
            yield ProviderError(message=f"Unexpected error from the provider: {type(exc).__name__}: {exc}")
        finally:
            if stream is not None:
                await stream.close()

    async def list_models(self) -> list[str]:
        try:
            ids = [model.id async for model in self._client.models.list(limit=1000)]
        except (anthropic.AnthropicError, httpx2.HTTPError) as exc:
            error = error_from_anthropic_exception(exc)
            if self.public_only:
                error = redact(error)
            if self.models:
                logger.warning(
                    "listing models of %s failed (%s); using the configured list", self.id, error.message
                )
                return list(self.models)
            raise ProviderRequestError(error) from exc
        return ids or list(self.models)

    async def aclose(self) -> None:
        await self._client.close()
