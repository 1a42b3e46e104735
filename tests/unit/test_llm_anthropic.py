"""The Anthropic adapter against the loopback fake (real SDK, real HTTP, real Messages SSE)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from contextlib import aclosing
from typing import Any

import anthropic
import pytest

from services.llm import (
    AnthropicProvider,
    ChatMessage,
    Event,
    Finish,
    ProviderError,
    ProviderRequestError,
    RetryPolicy,
    TextDelta,
    ToolCall,
    Usage,
    collect_reply,
)
from services.llm.anthropic_provider import DEFAULT_MAX_TOKENS, to_anthropic_messages
from tests.fakes.llm_server import DEFAULT_REPLY, FakeLLMServer, FakeToolCall, split_tokens

FAST_RETRY = RetryPolicy(max_attempts=3, base_delay=0.001, max_delay=0.01, max_retry_after=0.05)
HELLO = [
    ChatMessage("system", "You are terse."),
    ChatMessage("system", "Answer in English."),
    ChatMessage("user", "Say hello"),
]
WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather for a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}


@pytest.fixture(scope="module")
def server() -> Iterator[FakeLLMServer]:
    with FakeLLMServer() as fake:
        yield fake


@pytest.fixture(autouse=True)
def _fresh(server: FakeLLMServer) -> None:
    server.reset()


def provider_for(
    server: FakeLLMServer, *, api_key: str = "test-key", models: tuple[str, ...] = ()
) -> AnthropicProvider:
    return AnthropicProvider(
        provider_id="claude",
        label="Claude",
        api_key=api_key,
        base_url=server.anthropic_base_url,
        models=models,
        retry=FAST_RETRY,
        timeout=10,
    )


def sent_key(headers: dict[str, str]) -> str | None:
    """The API key as the SDK sent it (this SDK version uses a Bearer header, older ones x-api-key)."""
    auth = headers.get("authorization", "")
    return headers.get("x-api-key") or (auth[7:] if auth.startswith("Bearer ") else None)


async def events_of(
    provider: AnthropicProvider,
    messages: list[ChatMessage],
    *,
    tools: list[dict[str, Any]] | None = None,
    max_tokens: int | None = None,
) -> list[Event]:
    async with aclosing(
        provider.stream_chat("claude-fake", messages, tools=tools, max_tokens=max_tokens)
    ) as s:
        return [event async for event in s]


@pytest.mark.asyncio
async def test_streams_text_in_order_then_usage_then_finish(server: FakeLLMServer) -> None:
    server.configure(prompt_tokens=12, completion_tokens=9)
    async with provider_for(server) as provider:
        events = await events_of(provider, HELLO)

    tokens = split_tokens(DEFAULT_REPLY)
    assert events[: len(tokens)] == [TextDelta(t) for t in tokens]
    assert events[len(tokens) :] == [
        Usage(prompt_tokens=12, completion_tokens=9),
        Finish("stop", raw="end_turn"),
    ]
    assert server.client_disconnects == 0

    (request,) = server.chat_requests()
    assert request.path == "/v1/messages"
    assert sent_key(request.headers) == "test-key"
    assert "anthropic-version" in request.headers
    body = request.body
    assert body["stream"] is True
    assert body["model"] == "claude-fake"
    assert body["system"] == "You are terse.\n\nAnswer in English."
    assert body["messages"] == [{"role": "user", "content": [{"type": "text", "text": "Say hello"}]}]
    assert body["max_tokens"] == DEFAULT_MAX_TOKENS
    assert "tools" not in body


@pytest.mark.asyncio
async def test_max_tokens_is_passed_through(server: FakeLLMServer) -> None:
    async with provider_for(server) as provider:
        await events_of(provider, HELLO, max_tokens=321)
    assert server.chat_requests()[0].body["max_tokens"] == 321


@pytest.mark.asyncio
async def test_tool_use_blocks_are_assembled_from_input_json_deltas(server: FakeLLMServer) -> None:
    server.configure(
        reply="Let me look.",
        tool_calls=[
            FakeToolCall("get_weather", {"city": "Paris", "days": 3}, id="toolu_paris"),
            FakeToolCall("get_time", {}, id="toolu_time"),
        ],
    )
    async with provider_for(server) as provider:
        events = await events_of(provider, HELLO, tools=[WEATHER_TOOL])

    calls = [e for e in events if isinstance(e, ToolCall)]
    assert [(c.id, c.name) for c in calls] == [("toolu_paris", "get_weather"), ("toolu_time", "get_time")]
    assert json.loads(calls[0].arguments) == {"city": "Paris", "days": 3}
    assert json.loads(calls[1].arguments) == {}
    assert "".join(e.text for e in events if isinstance(e, TextDelta)) == "Let me look."
    assert events[-1] == Finish("tool_calls", raw="tool_use")
    assert isinstance(events[-2], Usage)

    assert server.chat_requests()[0].body["tools"] == [
        {
            "name": "get_weather",
            "description": "Current weather for a city",
            "input_schema": WEATHER_TOOL["function"]["parameters"],  # type: ignore[index]
        }
    ]


@pytest.mark.asyncio
async def test_tool_only_reply_without_text(server: FakeLLMServer) -> None:
    server.configure(reply="", tool_calls=[FakeToolCall("search", {"q": "solo os"}, id="toolu_1")])
    async with provider_for(server) as provider:
        events = await events_of(provider, HELLO)
    assert events[0] == ToolCall("toolu_1", "search", '{"q": "solo os"}')
    assert events[-1] == Finish("tool_calls", raw="tool_use")
    assert not any(isinstance(e, TextDelta) for e in events)


def test_messages_convert_to_alternating_turns_with_tool_blocks() -> None:
    system, turns = to_anthropic_messages(
        [
            ChatMessage("system", "Be brief."),
            ChatMessage("user", "Weather in Paris and Oslo?"),
            ChatMessage(
                "assistant",
                "Checking.",
                tool_calls=(
                    ToolCall("toolu_a", "get_weather", '{"city": "Paris"}'),
                    ToolCall("toolu_b", "get_weather", '{"city": "Oslo"}'),
                ),
            ),
            ChatMessage("tool", "21C", tool_call_id="toolu_a"),
            ChatMessage("tool", "12C", tool_call_id="toolu_b"),
            ChatMessage("user", "Thanks"),
        ]
    )
    assert system == "Be brief."
    assert turns == [
        {"role": "user", "content": [{"type": "text", "text": "Weather in Paris and Oslo?"}]},
        {
            "role": "assistant",
            "content": [
                {"type": "text", "text": "Checking."},
                {"type": "tool_use", "id": "toolu_a", "name": "get_weather", "input": {"city": "Paris"}},
                {"type": "tool_use", "id": "toolu_b", "name": "get_weather", "input": {"city": "Oslo"}},
            ],
        },
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": "toolu_a", "content": "21C"},
                {"type": "tool_result", "tool_use_id": "toolu_b", "content": "12C"},
                {"type": "text", "text": "Thanks"},
            ],
        },
    ]


@pytest.mark.asyncio
@pytest.mark.parametrize("status", [429, 500, 529])
async def test_retries_before_the_first_token_then_succeeds(server: FakeLLMServer, status: int) -> None:
    server.configure(error_status=status, error_count=2, retry_after="0")
    async with provider_for(server) as provider:
        reply = await collect_reply(provider.stream_chat("claude-fake", HELLO))
    assert reply.error is None
    assert reply.text == DEFAULT_REPLY
    assert len(server.chat_requests()) == 3


@pytest.mark.asyncio
async def test_gives_up_after_max_attempts(server: FakeLLMServer) -> None:
    server.configure(error_status=529)
    async with provider_for(server) as provider:
        events = await events_of(provider, HELLO)
    assert events == [ProviderError("Overloaded", status_code=529, retryable=True)]
    assert len(server.chat_requests()) == FAST_RETRY.max_attempts


@pytest.mark.asyncio
async def test_no_retry_after_the_first_token_partial_text_then_error(server: FakeLLMServer) -> None:
    server.configure(drop_after_tokens=2)
    async with provider_for(server) as provider:
        events = await events_of(provider, HELLO)
    tokens = split_tokens(DEFAULT_REPLY)
    assert events[:2] == [TextDelta(t) for t in tokens[:2]]
    assert len(events) == 3
    error = events[2]
    assert isinstance(error, ProviderError)
    assert error.retryable is True
    assert "connection" in error.message.lower()
    assert len(server.chat_requests()) == 1


@pytest.mark.asyncio
async def test_bad_key_gives_a_non_retryable_error_with_the_providers_message(server: FakeLLMServer) -> None:
    server.configure(api_key="right")
    async with provider_for(server, api_key="wrong") as provider:
        events = await events_of(provider, HELLO)
    assert events == [ProviderError("invalid x-api-key", status_code=401, retryable=False)]
    assert len(server.chat_requests()) == 1


@pytest.mark.asyncio
async def test_cancelling_the_consumer_task_closes_the_http_stream(server: FakeLLMServer) -> None:
    server.configure(reply=" ".join(f"word{i}" for i in range(300)), tokens_per_second=50)
    received: list[Event] = []
    first = asyncio.Event()
    async with provider_for(server) as provider:

        async def consume() -> None:
            async for event in provider.stream_chat("claude-fake", HELLO):
                received.append(event)
                first.set()

        task = asyncio.create_task(consume())
        await asyncio.wait_for(first.wait(), 5)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert await server.await_client_disconnects(1, seconds=3)
    assert received and all(isinstance(e, TextDelta) for e in received)
    assert len(received) < 300


@pytest.mark.asyncio
async def test_stopping_iteration_early_closes_the_http_stream(server: FakeLLMServer) -> None:
    server.configure(reply=" ".join(f"word{i}" for i in range(300)), tokens_per_second=50)
    async with provider_for(server) as provider:
        async with aclosing(provider.stream_chat("claude-fake", HELLO)) as stream:
            async for _ in stream:
                break
        # Deliberately blocking the event loop: the connection must already be closed when the
        # `async with` exits, not later by a garbage-collection finalizer task (which cannot run now).
        assert server.wait_for_client_disconnects(1, timeout=3)


@pytest.mark.asyncio
async def test_list_models_reads_the_models_endpoint(server: FakeLLMServer) -> None:
    server.configure(models=["claude-new", "claude-old"])
    async with provider_for(server) as provider:
        assert await provider.list_models() == ["claude-new", "claude-old"]
    (request,) = server.requests
    assert (request.method, request.path) == ("GET", "/v1/models")
    assert sent_key(request.headers) == "test-key"


@pytest.mark.asyncio
async def test_list_models_falls_back_to_configuration_or_raises(server: FakeLLMServer) -> None:
    server.configure(api_key="right")
    async with provider_for(server, api_key="wrong", models=("claude-pinned",)) as provider:
        assert await provider.list_models() == ["claude-pinned"]
    async with provider_for(server, api_key="wrong") as provider:
        with pytest.raises(ProviderRequestError) as caught:
            await provider.list_models()
    assert caught.value.error == ProviderError("invalid x-api-key", status_code=401, retryable=False)


@pytest.mark.asyncio
async def test_fake_answers_non_streaming_requests_for_the_sdk(server: FakeLLMServer) -> None:
    server.configure(reply="A short title", tool_calls=[FakeToolCall("noop", {"x": 1}, id="toolu_x")])
    client = anthropic.AsyncAnthropic(api_key="k", base_url=server.anthropic_base_url, max_retries=0)
    try:
        message = await client.messages.create(
            model="claude-fake", max_tokens=20, messages=[{"role": "user", "content": "Title this"}]
        )
    finally:
        await client.close()
    assert message.stop_reason == "tool_use"
    assert [block.type for block in message.content] == ["text", "tool_use"]
    assert message.content[0].text == "A short title"  # type: ignore[union-attr]
