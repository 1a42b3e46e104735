"""A title for a new conversation after its first exchange: from the model, else from the first words."""

from __future__ import annotations

import asyncio
import contextlib
import re
import unicodedata
import uuid

from services.chat.conversations import fallback_title, set_title
from services.context import Ctx
from services.llm import ChatMessage, Provider, collect_reply

TITLE_TIMEOUT = 20.0
MAX_TITLE_CHARS = 60
PROMPT = "Reply with a short title (3 to 6 words) for this chat. No quotes, no punctuation at the end."

_THINKING = re.compile(r"<(think|thinking|reasoning)>.*?(</\1>|$)", re.IGNORECASE | re.DOTALL)
_TAG = re.compile(r"</?[A-Za-z][^<>]*>")
_IMAGE = re.compile(r"!\[([^\]]*)\]\([^)]*\)")
_LINK = re.compile(r"\[([^\]]*)\]\([^)]*\)")
_LINE_START = re.compile(r"^\s*(?:#{1,6}\s*|>\s*|[-*+]\s+|\d+[.)]\s+)+")
_EMPHASIS = re.compile(r"(\*{1,3}|_{1,3}|~~)(?=\S)(.+?)(?<=\S)\1")
_CODE = re.compile(r"`+([^`]*)`+")
_LABEL = re.compile(
    r"^\s*(?:(?:sure|okay|ok)[!,.]?\s*)?(?:here(?:'s|’s| is)\s+)?(?:(?:the|a|your|suggested|chat|conversation|short)\s+)*"
    r"title\s*(?::\s*|\s[-–—]\s+|\s+is\s*:\s*)",
    re.IGNORECASE,
)
# Pairs of quotes that may wrap the whole title.
_QUOTES = {'"': '"', "'": "'", "“": "”", "‘": "’", "«": "»", "„": "“", "`": "`", "*": "*", "_": "_"}
_TRAILING = " .,;:·…-–—"


def _has_words(text: str) -> bool:
    """Letters or digits, not only emoji, symbols and punctuation."""
    return any(unicodedata.category(ch)[0] in "LN" for ch in text)


def _first_line(text: str) -> str:
    for line in text.splitlines():
        if line.strip() and _has_words(line):
            return line
    return ""


def _unwrap(text: str) -> str:
    """Take off quotes (and stray emphasis) around the whole title, however many layers."""
    while len(text) >= 2 and _QUOTES.get(text[0]) == text[-1]:
        text = text[1:-1].strip()
    return text


def _cap(text: str, limit: int = MAX_TITLE_CHARS) -> str:
    """At most `limit` characters, cut at a word boundary (a single huge word is cut where it must be)."""
    if len(text) <= limit:
        return text
    cut = text[: limit + 1]
    space = cut.rfind(" ")
    cut = cut[:space] if space >= limit // 3 else text[:limit]
    return cut.rstrip(_TRAILING + "([{")


def tidy_title(raw: str, first_message: str) -> str:
    """What a model answered to "give this chat a title", as a plain one-line title: no markdown (bold,
    headings, code, links), no "Title:" label, no quotes around it, no trailing period, at most
    MAX_TITLE_CHARS at a word boundary. When nothing worded is left (empty, emoji only), the first words
    of the member's message."""
    text = _THINKING.sub(" ", raw or "")
    text = _first_line(_TAG.sub(" ", text))
    text = _IMAGE.sub(r"\1", text)
    text = _LINK.sub(r"\1", text)
    text = _LINE_START.sub("", text)
    for _ in range(3):  # nested emphasis: ***x***, **_x_**
        text = _EMPHASIS.sub(r"\2", text)
    text = _CODE.sub(r"\1", text)
    text = " ".join(text.split())
    text = _unwrap(text)
    text = _LABEL.sub("", text)
    text = _unwrap(text.strip())
    text = text.replace("**", "").replace("__", "").strip()
    text = text.rstrip(_TRAILING)
    text = _unwrap(text).rstrip(_TRAILING)
    # A model that talks instead of naming: its first sentence ("Lisbon trip. Here is why...").
    if len(text) > MAX_TITLE_CHARS and (stop := text.find(". ")) > 0 and _has_words(text[:stop]):
        text = text[:stop]
    text = _cap(text)
    if not _has_words(text):
        return fallback_title(first_message)
    return text


async def name_conversation(
    ctx: Ctx, conversation_id: uuid.UUID, provider: Provider | None, model: str, first_message: str
) -> str:
    """Ask the model for a title (bounded in time; any failure falls back to the first words), store it and
    return it."""
    title = ""
    if provider is not None:
        with contextlib.suppress(Exception):
            prompt = [ChatMessage("system", PROMPT), ChatMessage("user", first_message[:2000])]
            reply = await asyncio.wait_for(
                collect_reply(provider.stream_chat(model, prompt, max_tokens=24)), TITLE_TIMEOUT
            )
            title = reply.text if reply.ok else ""
    return (await set_title(ctx, conversation_id, tidy_title(title, first_message))).title
