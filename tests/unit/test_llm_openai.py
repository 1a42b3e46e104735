"""The OpenAI-compatible adapter against the loopback fake (real SDK, real HTTP, real SSE), plus the
retry layer it relies on."""

from __future__ import annotations

import asyncio
import json
import socket
import time
from collections.abc import AsyncGenerator, Iterator
from contextlib import aclosing
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any, Literal

import openai
import pytest

from services.llm import (
    ChatMessage,
    Event,
    Finish,
    OpenAICompatibleProvider,
    Provider,
    ProviderError,
    ProviderRequestError,
    RetryPolicy,
    TextDelta,
    ToolCall,
    Usage,
    collect_reply,
    stream_with_retries,
)
from services.llm.retry import parse_retry_after
from tests.fakes.llm_server import DEFAULT_REPLY, FakeLLMServer, FakeToolCall, split_tokens

FAST_RETRY = RetryPolicy(max_attempts=3, base_delay=0.001, max_delay=0.01, max_retry_after=0.05)
HELLO = [ChatMessage("system", "You are terse."), ChatMessage("user", "Say hello")]
WEATHER_TOOL = {
    "name": "get_weather",
    "description": "Current weather for a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
}


@pytest.fixture(scope="module")
def server() -> Iterator[FakeLLMServer]:
    with FakeLLMServer() as fake:
        yield fake


@pytest.fixture(autouse=True)
def _fresh(server: FakeLLMServer) -> None:
    server.reset()


def provider_for(
    server: FakeLLMServer,
    *,
    retry: RetryPolicy = FAST_RETRY,
    api_key: str | None = "test-key",
    models: tuple[str, ...] = (),
    max_tokens_param: Literal["max_tokens", "max_completion_tokens"] = "max_tokens",
) -> OpenAICompatibleProvider:
    return OpenAICompatibleProvider(
        provider_id="fake",
        label="Fake",
        api_key=api_key,
        base_url=server.openai_base_url,
        models=models,
        retry=retry,
        timeout=10,
        max_tokens_param=max_tokens_param,
    )


async def events_of(
    provider: Provider,
    messages: list[ChatMessage],
    *,
    tools: list[dict[str, Any]] | None = None,
    temperature: float | None = None,
    max_tokens: int | None = None,
) -> list[Event]:
    stream = provider.stream_chat(
        "fake-model", messages, tools=tools, temperature=temperature, max_tokens=max_tokens
    )
    async with aclosing(stream) as events:
        return [event async for event in events]


# ---- streaming ------------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_streams_text_in_order_then_usage_then_finish(server: FakeLLMServer) -> None:
    server.configure(prompt_tokens=11, completion_tokens=7)
    async with provider_for(server) as provider:
        events = await events_of(provider, HELLO, temperature=0.3, max_tokens=50)

    tokens = split_tokens(DEFAULT_REPLY)
    assert len(tokens) > 5
    assert events[: len(tokens)] == [TextDelta(t) for t in tokens]
    assert events[len(tokens) :] == [Usage(prompt_tokens=11, completion_tokens=7), Finish("stop", raw="stop")]
    assert server.client_disconnects == 0

    (request,) = server.chat_requests()
    assert request.path == "/v1/chat/completions"
    assert request.headers["authorization"] == "Bearer test-key"
    body = request.body
    assert body["model"] == "fake-model"
    assert body["stream"] is True
    assert body["stream_options"] == {"include_usage": True}
    assert body["messages"] == [
        {"role": "system", "content": "You are terse."},
        {"role": "user", "content": "Say hello"},
    ]
    assert body["temperature"] == 0.3
    assert body["max_tokens"] == 50
    assert "max_completion_tokens" not in body
    assert "tools" not in body


@pytest.mark.asyncio
async def test_openai_proper_sends_max_completion_tokens(server: FakeLLMServer) -> None:
    async with provider_for(server, max_tokens_param="max_completion_tokens") as provider:
        reply = await collect_reply(provider.stream_chat("fake-model", HELLO, max_tokens=64))
    assert reply.ok
    body = server.chat_requests()[0].body
    assert body["max_completion_tokens"] == 64
    assert "max_tokens" not in body
    assert "temperature" not in body


@pytest.mark.asyncio
async def test_text_arrives_while_the_model_is_still_generating(server: FakeLLMServer) -> None:
    server.configure(reply="one two three four five six", tokens_per_second=40)
    stamps: list[tuple[float, Event]] = []
    async with (
        provider_for(server) as provider,
        aclosing(provider.stream_chat("fake-model", HELLO)) as stream,
    ):
        async for event in stream:
            stamps.append((time.monotonic(), event))
    first_text = next(t for t, e in stamps if isinstance(e, TextDelta))
    finished = next(t for t, e in stamps if isinstance(e, Finish))
    # Five gaps of 25 ms between six tokens: the first token must not wait for the last one.
    assert finished - first_text > 0.08
    assert "".join(e.text for _, e in stamps if isinstance(e, TextDelta)) == "one two three four five six"


@pytest.mark.asyncio
async def test_first_token_delay_is_not_an_error(server: FakeLLMServer) -> None:
    server.configure(reply="late but fine", first_token_delay=0.2)
    async with provider_for(server) as provider:
        started = time.monotonic()
        reply = await collect_reply(provider.stream_chat("fake-model", HELLO))
    assert reply.ok and reply.text == "late but fine"
    assert time.monotonic() - started >= 0.2
    assert len(server.chat_requests()) == 1


@pytest.mark.asyncio
async def test_tool_calls_are_assembled_from_fragments(server: FakeLLMServer) -> None:
    server.configure(
        reply="Checking both.",
        tool_calls=[
            FakeToolCall("get_weather", {"city": "Paris", "unit": "celsius"}, id="call_paris"),
            FakeToolCall("get_weather", {"city": "Oslo", "unit": "celsius"}, id="call_oslo"),
        ],
    )
    async with provider_for(server) as provider:
        events = await events_of(provider, HELLO, tools=[WEATHER_TOOL])

    calls = [e for e in events if isinstance(e, ToolCall)]
    assert [(c.id, c.name) for c in calls] == [("call_paris", "get_weather"), ("call_oslo", "get_weather")]
    assert [json.loads(c.arguments) for c in calls] == [
        {"city": "Paris", "unit": "celsius"},
        {"city": "Oslo", "unit": "celsius"},
    ]
    assert "".join(e.text for e in events if isinstance(e, TextDelta)) == "Checking both."
    assert events[-1] == Finish("tool_calls", raw="tool_calls")
    # Tool calls come after the text and before usage/finish.
    kinds = [type(e).__name__ for e in events]
    assert kinds.index("ToolCall") > max(i for i, k in enumerate(kinds) if k == "TextDelta")
    assert kinds[-2:] == ["Usage", "Finish"]

    sent_tools = server.chat_requests()[0].body["tools"]
    assert sent_tools == [
        {
            "type": "function",
            "function": {
                "name": "get_weather",
                "description": "Current weather for a city",
                "parameters": WEATHER_TOOL["parameters"],
            },
        }
    ]


@pytest.mark.asyncio
async def test_tool_history_is_sent_in_chat_completions_format(server: FakeLLMServer) -> None:
    history = [
        ChatMessage("user", "Weather in Paris?"),
        ChatMessage("assistant", "", tool_calls=(ToolCall("call_1", "get_weather", '{"city": "Paris"}'),)),
        ChatMessage("tool", '{"temp": 21}', tool_call_id="call_1"),
    ]
    async with provider_for(server) as provider:
        reply = await collect_reply(provider.stream_chat("fake-model", history))
    assert reply.ok
    assert server.chat_requests()[0].body["messages"] == [
        {"role": "user", "content": "Weather in Paris?"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": '{"temp": 21}'},
    ]


# ---- retries and errors ---------------------------------------------------------------------------


@pytest.mark.asyncio
@pytest.mark.parametrize("status", [429, 500, 503])
async def test_retries_before_the_first_token_then_succeeds(server: FakeLLMServer, status: int) -> None:
    server.configure(error_status=status, error_count=2, retry_after="0")
    async with provider_for(server) as provider:
        reply = await collect_reply(provider.stream_chat("fake-model", HELLO))
    assert reply.error is None
    assert reply.text == DEFAULT_REPLY
    assert len(server.chat_requests()) == 3


@pytest.mark.asyncio
async def test_gives_up_after_max_attempts_with_the_last_error(server: FakeLLMServer) -> None:
    server.configure(error_status=500)
    async with provider_for(server) as provider:
        events = await events_of(provider, HELLO)
    assert len(server.chat_requests()) == FAST_RETRY.max_attempts
    assert len(events) == 1
    (error,) = events
    assert isinstance(error, ProviderError)
    assert error.status_code == 500
    assert error.retryable is True
    assert error.message == "The server had an error while processing your request. Sorry about that!"


@pytest.mark.asyncio
async def test_retry_after_is_honoured_and_capped(server: FakeLLMServer) -> None:
    delays: list[float] = []

    async def record(seconds: float) -> None:
        delays.append(seconds)

    async with provider_for(server) as provider:
        provider._sleep = record
        server.configure(error_status=429, error_count=1, retry_after="7")
        assert (await collect_reply(provider.stream_chat("fake-model", HELLO))).ok
        server.configure(error_status=429, error_count=1, retry_after="0.02")
        assert (await collect_reply(provider.stream_chat("fake-model", HELLO))).ok
        server.configure(error_status=500, error_count=1, retry_after=None)
        assert (await collect_reply(provider.stream_chat("fake-model", HELLO))).ok
    assert delays[0] == FAST_RETRY.max_retry_after  # 7 s asked, capped
    assert delays[1] == pytest.approx(0.02)
    assert 0 <= delays[2] <= FAST_RETRY.base_delay  # no header: jittered backoff


@pytest.mark.asyncio
async def test_no_retry_after_the_first_token_partial_text_then_error(server: FakeLLMServer) -> None:
    server.configure(drop_after_tokens=3)
    async with provider_for(server) as provider:
        events = await events_of(provider, HELLO)
    tokens = split_tokens(DEFAULT_REPLY)
    assert events[:3] == [TextDelta(t) for t in tokens[:3]]
    assert len(events) == 4
    error = events[3]
    assert isinstance(error, ProviderError)
    assert error.retryable is True
    assert error.status_code is None
    assert "connection" in error.message.lower()
    assert len(server.chat_requests()) == 1


@pytest.mark.asyncio
async def test_bad_key_gives_a_non_retryable_error_with_the_providers_message(server: FakeLLMServer) -> None:
    server.configure(api_key="the-right-key")
    async with provider_for(server, api_key="a-wrong-key") as provider:
        events = await events_of(provider, HELLO)
    assert events == [
        ProviderError(
            message="Incorrect API key provided: sk-fake***. You can find your API key at "
            "https://platform.openai.com/account/api-keys.",
            status_code=401,
            retryable=False,
        )
    ]
    assert len(server.chat_requests()) == 1


@pytest.mark.asyncio
async def test_custom_error_message_reaches_the_caller(server: FakeLLMServer) -> None:
    server.configure(error_status=400, error_message="max_tokens is too large: 999999")
    async with provider_for(server) as provider:
        reply = await collect_reply(provider.stream_chat("fake-model", HELLO))
    assert reply.error == ProviderError("max_tokens is too large: 999999", status_code=400, retryable=False)
    assert len(server.chat_requests()) == 1


@pytest.mark.asyncio
async def test_unreachable_endpoint_is_a_retryable_connection_error() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    provider = OpenAICompatibleProvider(
        provider_id="gone",
        label="Gone",
        api_key=None,
        base_url=f"http://127.0.0.1:{port}/v1",
        retry=FAST_RETRY,
    )
    async with provider:
        events = await events_of(provider, HELLO)
    assert len(events) == 1
    assert isinstance(events[0], ProviderError)
    assert events[0].retryable is True
    assert events[0].message.startswith("Connection error.")


# ---- cancellation -----------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_cancelling_the_consumer_task_closes_the_http_stream(server: FakeLLMServer) -> None:
    server.configure(reply=" ".join(f"word{i}" for i in range(300)), tokens_per_second=50)
    received: list[Event] = []
    first = asyncio.Event()
    async with provider_for(server) as provider:

        async def consume() -> None:
            async for event in provider.stream_chat("fake-model", HELLO):
                received.append(event)
                first.set()

        task = asyncio.create_task(consume())
        await asyncio.wait_for(first.wait(), 5)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert await server.await_client_disconnects(1, seconds=3)
    assert all(isinstance(e, TextDelta) for e in received)
    assert len(received) < 300


@pytest.mark.asyncio
async def test_stopping_iteration_early_closes_the_http_stream(server: FakeLLMServer) -> None:
    server.configure(reply=" ".join(f"word{i}" for i in range(300)), tokens_per_second=50)
    async with provider_for(server) as provider:
        async with aclosing(provider.stream_chat("fake-model", HELLO)) as stream:
            async for event in stream:
                assert isinstance(event, TextDelta)
                break
        # Deliberately blocking the event loop: the connection must already be closed when the
        # `async with` exits, not later by a garbage-collection finalizer task (which cannot run now).
        assert server.wait_for_client_disconnects(1, timeout=3)
        # The provider stays usable after an abandoned stream.
        server.configure(reply="again", tokens_per_second=None)
        assert (await collect_reply(provider.stream_chat("fake-model", HELLO))).text == "again"


# ---- models and non-streaming -------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_list_models_reads_the_models_endpoint(server: FakeLLMServer) -> None:
    server.configure(models=["zeta-1", "alpha-2"])
    async with provider_for(server, models=("configured",)) as provider:
        assert await provider.list_models() == ["alpha-2", "zeta-1"]
    (request,) = server.requests
    assert (request.method, request.path) == ("GET", "/v1/models")


@pytest.mark.asyncio
async def test_list_models_falls_back_to_configuration_or_raises(server: FakeLLMServer) -> None:
    server.configure(api_key="the-right-key")
    async with provider_for(server, api_key="wrong", models=("llama3.1",)) as provider:
        assert await provider.list_models() == ["llama3.1"]
    async with provider_for(server, api_key="wrong") as provider:
        with pytest.raises(ProviderRequestError) as caught:
            await provider.list_models()
    assert caught.value.error.status_code == 401
    assert caught.value.error.retryable is False


@pytest.mark.asyncio
async def test_fake_answers_non_streaming_requests_for_the_sdk(server: FakeLLMServer) -> None:
    server.configure(reply="A short title", prompt_tokens=5, completion_tokens=3)
    client = openai.AsyncOpenAI(api_key="k", base_url=server.openai_base_url, max_retries=0)
    try:
        completion = await client.chat.completions.create(
            model="fake-model", messages=[{"role": "user", "content": "Title this"}]
        )
    finally:
        await client.close()
    assert completion.choices[0].message.content == "A short title"
    assert completion.choices[0].finish_reason == "stop"
    assert completion.usage is not None and completion.usage.total_tokens == 8


# ---- the retry layer on its own --------------------------------------------------------------------


def test_retry_delay_is_full_jitter_with_a_ceiling() -> None:
    policy = RetryPolicy(max_attempts=6, base_delay=0.5, max_delay=3.0, max_retry_after=10.0)
    assert [policy.delay(n, rand=lambda: 1.0) for n in (1, 2, 3, 4, 5)] == [0.5, 1.0, 2.0, 3.0, 3.0]
    assert policy.delay(4, rand=lambda: 0.0) == 0.0
    assert policy.delay(2, rand=lambda: 0.25) == 0.25
    assert policy.delay(1, retry_after=4.0) == 4.0
    assert policy.delay(1, retry_after=60.0) == 10.0
    with pytest.raises(ValueError):
        RetryPolicy(max_attempts=0)


def test_parse_retry_after_forms() -> None:
    assert parse_retry_after({"retry-after": "3"}) == 3.0
    assert parse_retry_after({"retry-after-ms": "250", "retry-after": "9"}) == 0.25
    assert parse_retry_after({"retry-after": "soon"}) is None
    assert parse_retry_after({"retry-after": "-1"}) is None
    assert parse_retry_after({}) is None
    now = datetime(2030, 1, 1, tzinfo=UTC)
    header = format_datetime(now + timedelta(seconds=30), usegmt=True)
    assert parse_retry_after({"retry-after": header}, now=now.timestamp()) == pytest.approx(30.0)


@pytest.mark.asyncio
async def test_stream_with_retries_only_retries_before_content_and_closes_attempts() -> None:
    script: list[list[Event]] = [
        [ProviderError("busy", 503, retryable=True)],
        [TextDelta("par"), ProviderError("dropped", retryable=True)],
        [TextDelta("never")],
    ]
    closed: list[int] = []

    def attempt() -> AsyncGenerator[Event, None]:
        number = len(closed)

        async def run() -> AsyncGenerator[Event, None]:
            try:
                for event in script[number]:
                    yield event
            finally:
                closed.append(number)

        return run()

    sleeps: list[float] = []

    async def no_sleep(seconds: float) -> None:
        sleeps.append(seconds)

    policy = RetryPolicy(max_attempts=5, base_delay=1.0)
    events = [e async for e in stream_with_retries(attempt, policy, sleep=no_sleep, rand=lambda: 0.5)]
    assert events == [TextDelta("par"), ProviderError("dropped", retryable=True)]
    assert closed == [0, 1]
    assert sleeps == [0.5]


@pytest.mark.asyncio
async def test_stream_with_retries_does_not_retry_non_retryable_errors() -> None:
    calls = 0

    async def attempt() -> AsyncGenerator[Event, None]:
        nonlocal calls
        calls += 1
        yield ProviderError("bad request", 400, retryable=False)

    events = [e async for e in stream_with_retries(attempt, RetryPolicy(max_attempts=4, base_delay=0))]
    assert events == [ProviderError("bad request", 400, retryable=False)]
    assert calls == 1


def test_chat_message_validation() -> None:
    with pytest.raises(ValueError, match="tool_call_id"):
        ChatMessage("tool", "result")
    with pytest.raises(ValueError, match="tool_calls"):
        ChatMessage("user", "hi", tool_calls=(ToolCall("c", "f", "{}"),))
