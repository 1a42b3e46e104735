"""Retries with exponential backoff and full jitter, only before the first content event.

An adapter's single attempt is an async iterator of events that never raises for provider failures:
it yields a `ProviderError` instead. `stream_with_retries` starts attempts until one yields content
(text or a tool call). From then on the attempt is final: a later `ProviderError` is passed on, so
the caller keeps the partial text and shows the error. Before that, a retryable error (HTTP 408, 409,
429, 5xx, connection failures) starts a new attempt after a delay, unless attempts are exhausted.
"""

from __future__ import annotations

import asyncio
import logging
import math
import random
import time
from collections.abc import AsyncGenerator, Awaitable, Callable, Mapping
from contextlib import aclosing
from dataclasses import dataclass
from email.utils import parsedate_to_datetime

from services.llm.events import Event, ProviderError, TextDelta, ToolCall

logger = logging.getLogger(__name__)

RETRYABLE_STATUS = frozenset({408, 409, 429})


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How often and how long to wait before trying a request again.

    `max_attempts` counts the first try (1 = never retry). The n-th retry waits a random time in
    [0, min(max_delay, base_delay * 2**(n-1))] ("full jitter"); when the provider sent Retry-After,
    it waits that long instead, but at most `max_retry_after` seconds.
    """

    max_attempts: int = 3
    base_delay: float = 0.5
    max_delay: float = 8.0
    max_retry_after: float = 20.0

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if self.base_delay < 0 or self.max_delay < 0 or self.max_retry_after < 0:
            raise ValueError("retry delays must not be negative")

    def delay(
        self, retry: int, retry_after: float | None = None, rand: Callable[[], float] = random.random
    ) -> float:
        """Seconds to wait before retry number `retry` (1-based)."""
        if retry_after is not None:
            return max(0.0, min(retry_after, self.max_retry_after))
        ceiling = min(self.max_delay, self.base_delay * (2 ** (retry - 1)))
        return rand() * ceiling


NO_RETRY = RetryPolicy(max_attempts=1)


def is_retryable_status(status: int) -> bool:
    return status in RETRYABLE_STATUS or status >= 500


def parse_retry_after(headers: Mapping[str, str] | None, now: float | None = None) -> float | None:
    """Seconds from the `retry-after-ms` or `Retry-After` header (seconds or an HTTP date), if any."""
    if headers is None:
        return None
    raw_ms = headers.get("retry-after-ms")
    if raw_ms:
        try:
            value = float(raw_ms) / 1000.0
        except ValueError:
            value = math.nan
        if math.isfinite(value) and value >= 0:
            return value
    raw = headers.get("retry-after")
    if not raw:
        return None
    raw = raw.strip()
    try:
        seconds = float(raw)
    except ValueError:
        try:
            when = parsedate_to_datetime(raw)
        except (TypeError, ValueError, IndexError):
            return None
        current = time.time() if now is None else now
        return max(0.0, when.timestamp() - current)
    if not math.isfinite(seconds) or seconds < 0:
        return None
    return seconds


def should_retry_header(headers: Mapping[str, str] | None) -> bool | None:
    """The provider's explicit `x-should-retry` verdict, when it sent one."""
    if headers is None:
        return None
    value = headers.get("x-should-retry")
    if value == "true":
        return True
    if value == "false":
        return False
    return None


async def stream_with_retries(
    attempt: Callable[[], AsyncGenerator[Event, None]],
    policy: RetryPolicy,
    *,
    sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
    rand: Callable[[], float] = random.random,
) -> AsyncGenerator[Event, None]:
    """Yield the events of `attempt()`, starting it again on a retryable error before any content.

    Each attempt iterator is closed before the next one starts and when the consumer stops early,
    so no HTTP stream is left open.
    """
    number = 0
    while True:
        number += 1
        started = False
        failure: ProviderError | None = None
        async with aclosing(attempt()) as events:
            async for event in events:
                if isinstance(event, ProviderError) and not started:
                    failure = event
                    break
                if isinstance(event, (TextDelta, ToolCall)):
                    started = True
                yield event
        if failure is None:
            return
        if not failure.retryable or number >= policy.max_attempts:
            yield failure
            return
        wait = policy.delay(number, failure.retry_after, rand)
        logger.warning(
            "LLM request failed before the first token (%s, status %s); retry %d/%d in %.2fs",
            failure.message,
            failure.status_code,
            number,
            policy.max_attempts - 1,
            wait,
        )
        await sleep(wait)
