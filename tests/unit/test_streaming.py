"""The reply runner against the fake provider over real HTTP: coalesced flushes, stop, errors, usage."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time

from services.llm import ChatMessage
from services.llm.registry import ProviderConfig, make_provider
from services.streaming import ReplyOutcome, run_reply
from tests.fakes.llm_server import FakeLLMServer

HISTORY = [ChatMessage(role="user", content="hi")]


def _provider(server: FakeLLMServer):  # type: ignore[no-untyped-def]
    cfg = ProviderConfig(id="fake", kind="openai_compatible", label="Fake", api_key="k",
                         base_url=server.openai_base_url, models=["fake-model"])  # fmt: skip
    return make_provider(cfg)


async def test_text_grows_in_coalesced_flushes_and_usage_is_reported() -> None:
    reply = " ".join(f"w{i}" for i in range(60))
    with FakeLLMServer() as server:
        server.configure(reply=reply, tokens_per_second=300, first_token_delay=0.05)
        seen: list[str] = []

        async def on_text(text: str) -> None:
            seen.append(text)

        out = await run_reply(_provider(server), "fake-model", HISTORY, on_text=on_text, flush_interval=0.05)
    assert out.status == "complete" and out.text == reply and seen[-1] == reply
    assert all(b.startswith(a) for a, b in itertools.pairwise(seen))  # the text only grows
    assert 2 <= len(seen) < 60  # coalesced: far fewer updates than tokens, but more than one
    assert out.completion_tokens > 0 and out.prompt_tokens > 0
    assert out.ttft_ms is not None and out.ttft_ms >= 40


async def test_stop_keeps_the_partial_text_and_closes_the_stream() -> None:
    with FakeLLMServer() as server:
        server.configure(reply=" ".join(["word"] * 400), tokens_per_second=200)
        stop_at = time.perf_counter() + 0.3

        async def on_text(_: str) -> None:
            return None

        async def should_stop() -> bool:
            return time.perf_counter() > stop_at

        out = await run_reply(
            _provider(server), "fake-model", HISTORY, on_text=on_text, should_stop=should_stop
        )
        assert (
            out.status == "unfinished" and out.text.startswith("word") and len(out.text) < len("word " * 400)
        )
        await server.await_client_disconnects(1, 5)


async def test_provider_error_mid_stream_keeps_partial_text() -> None:
    with FakeLLMServer() as server:
        server.configure(reply="one two three four five six", drop_after_tokens=3)

        async def on_text(_: str) -> None:
            return None

        out = await run_reply(_provider(server), "fake-model", HISTORY, on_text=on_text)
    assert out.status == "error" and out.text == "one two three" and out.error


async def test_cancellation_reports_partial_text_then_propagates() -> None:
    with FakeLLMServer() as server:
        server.configure(reply=" ".join(["x"] * 500), tokens_per_second=100)
        texts: list[str] = []

        async def on_text(text: str) -> None:
            texts.append(text)

        task = asyncio.create_task(run_reply(_provider(server), "fake-model", HISTORY, on_text=on_text))
        await asyncio.sleep(0.3)
        task.cancel()
        try:
            await task
        except asyncio.CancelledError:
            pass
        assert task.cancelled() and texts
        await server.await_client_disconnects(1, 5)


async def test_cancellation_leaves_all_the_text_received_in_the_outcome() -> None:
    """Flushes are coalesced: the last text pushed to the page lags what arrived. The outcome passed in holds
    everything received when the task is cancelled (the caller stores that, not the last flush)."""
    with FakeLLMServer() as server:
        server.configure(reply=" ".join(f"x{i}" for i in range(500)), tokens_per_second=200)
        texts: list[str] = []

        async def on_text(text: str) -> None:
            texts.append(text)

        outcome = ReplyOutcome()
        task = asyncio.create_task(
            run_reply(
                _provider(server), "fake-model", HISTORY, on_text=on_text, flush_interval=60, outcome=outcome
            )
        )
        await asyncio.sleep(0.4)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    assert texts == ["x0"]  # one flush (the first token), then none for 60 s
    assert (
        outcome.status == "unfinished" and outcome.text.startswith("x0 x1 x2") and "x499" not in outcome.text
    )
