"""The one-line headline of a failed reply, from the stored (provider's) error text."""

from __future__ import annotations

import pytest

from services.turns.failure import headline


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        ("Could not connect to the provider, or the connection broke. Check its base URL.", "Couldn't reach OpenAI."),
        ("Connection error. (ConnectError: [Errno 111] Connection refused)", "Couldn't reach OpenAI."),
        ("The provider refused the request (HTTP 401): check the API key.", "OpenAI refused the request: check its API key."),
        ("Incorrect API key provided (HTTP 401)", "OpenAI refused the request: check its API key."),
        ("The provider is rate limiting requests (HTTP 429). Try again shortly.", "OpenAI is busy right now. Wait a moment, then retry."),
        ("the fake provider is down (HTTP 500)", "OpenAI had a problem answering."),
        ("The provider answered HTTP 404: check the base URL and the model name.", "OpenAI doesn't know this model or address."),
        ("Request timed out.", "OpenAI took too long to answer."),
        ("The stream ended before the model finished.", "The answer from OpenAI was cut off."),
        ("Something nobody planned for", "OpenAI couldn't answer."),
    ],
)  # fmt: skip
def test_headline_names_the_provider_in_plain_words(error: str, expected: str) -> None:
    assert headline(error, "OpenAI") == expected


def test_without_a_label_it_says_the_provider() -> None:
    assert headline("Connection error.", "") == "Couldn't reach the provider."
    assert headline("", "") == "The provider couldn't answer."
