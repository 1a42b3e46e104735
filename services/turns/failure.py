"""One sentence in plain words for a reply that failed; the stored error text stays as the detail.

Replies keep the provider's (redacted) explanation in `error_text`. The page shows `headline(...)` first, with the
raw text behind "Details", so the user reads what happened and what to do, not a stack of HTTP jargon.
"""

from __future__ import annotations

import re

_RULES: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern, re.IGNORECASE), text)
    for pattern, text in (
        (r"not public \(private, loopback", "{p}'s address is not allowed: a workspace's providers must be public."),
        (r"could not be saved", "The reply could not be saved."),
        (r"cannot be used right now|could not be read|decrypt", "This model cannot be used right now."),
        (r"HTTP 40[13]\b|api key|unauthori[sz]ed|authentication|permission", "{p} refused the request: check its API key."),
        (r"HTTP 404\b|model .*(not found|does not exist)|unknown model", "{p} doesn't know this model or address."),
        (r"HTTP 429\b|rate limit|too many requests|overloaded", "{p} is busy right now. Wait a moment, then retry."),
        (r"timed? ?out|timeout", "{p} took too long to answer."),
        (r"could not connect|connection error|connect(ion)? (refused|reset)|name or service|unreachable",
         "Couldn't reach {p}."),
        (r"stream ended before|interrupted|broke", "The answer from {p} was cut off."),
        (r"HTTP 5\d\d\b|had an error|server error|internal error", "{p} had a problem answering."),
        (r"length limit", "The reply reached the model's length limit."),
        (r"^stopped\.?$", "Stopped."),
    )
)  # fmt: skip


def headline(error_text: str, provider_label: str = "") -> str:
    """What went wrong, in one short sentence naming the provider (`provider_label`, or "the provider")."""
    name = provider_label.strip() or "the provider"
    text = error_text.strip()
    for pattern, template in _RULES:
        if pattern.search(text):
            out = template.format(p=name)
            return out[0].upper() + out[1:]
    return f"{name[0].upper()}{name[1:]} couldn't answer."
