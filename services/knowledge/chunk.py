"""Sections of text cut into chunks of a few hundred tokens for search, with a token estimate that needs no
download.

    chunks = chunk(sections, max_tokens=400, overlap=60)
    chunks[0].ordinal, .text, .page, .heading, .tokens

Chunks never cross a section (so never a page, a slide, a sheet or a heading's section). A section is split on
paragraph boundaries first, then on sentence boundaries, then on word boundaries (a single "word" longer than a
chunk, such as a run of base64, is cut where it must be). Consecutive chunks of one section overlap: the next one
starts with the last ~`overlap` tokens of whole sentences (or words) of the previous one.

## Counting tokens without a tokenizer

`tiktoken` downloads its encodings at first use (offline it fails), so `count_tokens` estimates OpenAI's
cl100k_base count instead. It splits the text with the same pre-tokenizer rule cl100k uses (contractions; a
word with the space or sign before it; digits in groups of up to three; runs of punctuation; line breaks and
runs of spaces), then prices each piece as cl100k's merges usually do:
- an ASCII word is one token up to 6 letters, a little more up to 10, and grows by one token per ~4 letters
  past 14 (the price table was measured against cl100k on the English prose of Python's documentation);
  an all-capitals word is priced by length (about 3 letters a token), a word glued to a sign ("(word") adds a
  little;
- Chinese, Japanese and Korean characters are one token each; other non-ASCII letters (accented Latin,
  Cyrillic, Greek, Arabic, ...) about half a token each;
- a group of digits is one token, a run of punctuation one per 4 characters, a run of spaces or line breaks one.
On English prose it lands within ~5% of the real count (within 15% on code, JSON and other languages); it is an
estimate for sizing chunks and budgets, not for billing.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from dataclasses import dataclass

from services.knowledge.extract import Section

_PIECE = re.compile(
    r"'(?:[sdmt]|ll|ve|re)"  # contractions
    r"|(?:[^\r\n\w]|_)?[^\W\d_]+"  # a word, with the space or sign before it
    r"|\d{1,3}"  # digits, three at a time
    r"| ?(?:[^\s\w]|_)+[\r\n]*"  # a run of punctuation
    r"|\s*[\r\n]+"  # line breaks
    r"|\s+(?!\S)|\s+",  # runs of spaces
    re.IGNORECASE,
)
# Tokens of an ASCII word of n letters (index n), measured against cl100k on English prose.
_WORD = (0.0, 1.0, 1.0, 1.01, 1.01, 1.01, 1.02, 1.06, 1.11, 1.1, 1.11, 1.27, 1.5, 1.6, 1.6)
_CJK = re.compile(
    r"[\u1100-\u11ff\u3040-\u30ff\u3130-\u318f\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff]"
)


_ASCII_RUN = re.compile(r"[A-Za-z]+")
_CAMEL = re.compile(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])")


def _ascii_word(word: str) -> float:
    n = len(word)
    if n > 3 and word.isupper():
        return max(_table(n), n / 3)
    if not word[1:].islower() and not word.isupper():  # camelCase, or random letters (base64): by parts
        return sum(_table(len(part)) for part in _CAMEL.findall(word))
    return _table(n)


def _table(n: int) -> float:
    return _WORD[n] if n < len(_WORD) else _WORD[-1] + (n - len(_WORD) + 1) / 4


def _letter_rate(ch: str) -> float:
    """Tokens per letter outside ASCII, by script (cl100k knows Latin and Cyrillic best, after English)."""
    code = ord(ch)
    if _CJK.match(ch):
        return (
            1.15 if 0xAC00 <= code <= 0xD7AF or 0x1100 <= code <= 0x11FF or 0x3130 <= code <= 0x318F else 1.05
        )
    if code < 0x0250:
        return 0.6  # accented Latin
    if 0x0400 <= code < 0x0530:
        return 0.55  # Cyrillic
    if 0x0590 <= code < 0x0800:
        return 0.8  # Hebrew, Arabic
    return 1.0  # Greek, Indic and other scripts


def _word_tokens(word: str) -> float:
    lead = 0.0
    if not word[0].isalpha():
        lead = 0.0 if word[0] == " " else 0.55
        word = word[1:]
    if word.isascii():
        return lead + _ascii_word(word)
    cost = 0.0
    for run in _ASCII_RUN.findall(word):  # the ASCII letters between the others: "Br", "cke" in "Brücke"
        cost += _table(len(run)) * 0.7
    for ch in word:
        if not ch.isascii():
            cost += _letter_rate(ch)
    return lead + max(cost, 1.0)


def count_tokens(text: str) -> int:
    """An estimate of the cl100k_base token count of `text` (see the module's notes); 0 for ""."""
    return round(_estimate(text))


def _estimate(text: str) -> float:
    total = 0.0
    for match in _PIECE.finditer(text):
        piece = match.group()
        first = piece[0]
        if first.isdigit():
            total += 1
        elif piece.isspace():
            total += 1
        elif first.isalpha() or (len(piece) > 1 and piece[1].isalpha()):
            total += _word_tokens(piece)
        elif piece[0] == "'" and len(piece) <= 3 and piece[1:].isalpha():
            total += 1
        else:
            total += _punctuation_tokens(piece.strip(" \r\n"))
    return total


_SAME_CHAR_RUN = re.compile(r"(.)\1*", re.DOTALL)


def _punctuation_tokens(run: str) -> float:
    """cl100k holds most pairs and triples of signs (and its line break) as one token, and long runs of one
    sign ("----------------") in a few."""
    runs = [m.end() - m.start() for m in _SAME_CHAR_RUN.finditer(run)]
    return max(1.0, 0.5 * len(runs) + sum(math.ceil(n / 16) - 1 for n in runs))


@dataclass
class Chunk:
    ordinal: int
    text: str
    page: int | None
    heading: str | None
    tokens: int


@dataclass
class _Unit:
    text: str
    joiner: str  # put before it when it follows another unit: "\n\n" when it starts a paragraph
    tokens: float  # unrounded, so that the sum of a chunk's pieces is its estimate
    carried: bool = False  # overlap: already in the previous chunk


_PARAGRAPH = re.compile(r"\n[ \t]*\n\s*")
# Cut points: after a sentence's end (. ! ? maybe followed by a closing quote or bracket) before the space that
# follows it, after a CJK sentence end, and before a line break.
_SENTENCE = re.compile(r"(?<=[.!?])(?=\s)|(?<=[.!?][\"'”’)\]])(?=\s)|(?<=[。！？])|(?=\n)")
_WORD_SPLIT = re.compile(r"(?<=\S)(?=\s)")  # before the space: " word" is one token, "word " two


def _split(text: str, pattern: re.Pattern[str]) -> list[str]:
    pieces, start = [], 0
    for m in pattern.finditer(text):
        if m.start() > start:
            pieces.append(text[start : m.start()])
            start = m.start()
    pieces.append(text[start:])
    return [p for p in pieces if p.strip()]


def _cut(word: str, max_tokens: int) -> Iterator[str]:
    """An unbroken run longer than a chunk (base64, a long URL), cut by characters."""
    step = max(1, len(word) * max_tokens // max(count_tokens(word), 1))
    start = 0
    while start < len(word):
        size = step
        while size > 1 and count_tokens(word[start : start + size]) > max_tokens:
            size = size * 3 // 4
        yield word[start : start + size]
        start += size


def _pieces(paragraph: str, max_tokens: int) -> Iterator[str]:
    for sentence in _split(paragraph, _SENTENCE):
        if count_tokens(sentence) <= max_tokens:
            yield sentence
            continue
        for word in _split(sentence, _WORD_SPLIT):
            if count_tokens(word) <= max_tokens:
                yield word
            else:
                yield from _cut(word, max_tokens)


def _units(text: str, max_tokens: int) -> Iterator[_Unit]:
    """The text's sentences (the words of a sentence longer than a chunk), each marked when it starts a
    paragraph."""
    for paragraph in _PARAGRAPH.split(text):
        paragraph = paragraph.strip()
        joiner = "\n\n"
        for piece in _pieces(paragraph, max_tokens - 1) if paragraph else ():
            yield _Unit(piece, joiner, _estimate(piece) + (1 if joiner else 0))
            joiner = ""


def chunk(sections: list[Section], *, max_tokens: int = 400, overlap: int = 60) -> list[Chunk]:
    """The sections' text in chunks of at most ~`max_tokens` tokens, cut between paragraphs where that leaves
    the chunk at least half full, else between sentences (else words); consecutive chunks of one section share
    ~`overlap` tokens; a chunk never spans two sections. Ordinals run 0..n-1 across all sections."""
    if max_tokens < 2:
        raise ValueError("max_tokens must be at least 2")
    overlap = max(0, min(overlap, max_tokens // 2))
    chunks: list[Chunk] = []
    for section in sections:
        window: list[_Unit] = []
        for unit in _units(section.text, max_tokens):
            while window and _size(window) + unit.tokens > max_tokens:
                if all(u.carried for u in window):
                    window.pop(0)  # overlap that does not fit beside the next piece
                    continue
                cut = _cut_point(window, max_tokens)
                emitted, rest = window[:cut], window[cut:]
                _emit(chunks, emitted, section)
                room = max_tokens - unit.tokens - _size(rest)
                window = _overlap(emitted, min(overlap, room)) + rest
            window.append(unit)
        if any(not u.carried for u in window):
            _emit(chunks, window, section)
    return chunks


def _size(units: list[_Unit]) -> float:
    return sum(u.tokens for u in units)


def _cut_point(window: list[_Unit], max_tokens: int) -> int:
    """Where to end the chunk: before the last paragraph that starts in its second half, else at its end."""
    first_new = next(i for i, u in enumerate(window) if not u.carried)
    size = 0.0
    best = len(window)
    for i, unit in enumerate(window):
        if i > first_new and unit.joiner and size >= max_tokens // 2:
            best = i
        size += unit.tokens
    return best


def _emit(chunks: list[Chunk], window: list[_Unit], section: Section) -> None:
    text = "".join((u.joiner if i else "") + u.text for i, u in enumerate(window)).strip()
    if text:
        chunks.append(Chunk(len(chunks), text, section.page, section.heading, count_tokens(text)))


def _overlap(window: list[_Unit], limit: float) -> list[_Unit]:
    """The end of `window` holding about `limit` tokens, to start the next chunk with: whole sentences when
    they fit, topped up with the last words of the sentence before them."""
    if limit <= 0:
        return []
    kept: list[_Unit] = []
    size = 0.0
    i = len(window) - 1
    while i >= 0 and size + window[i].tokens <= limit:
        kept.insert(0, _Unit(window[i].text, window[i].joiner, window[i].tokens, carried=True))
        size += window[i].tokens
        i -= 1
    if i >= 0 and size < limit * 3 // 4:
        words: list[str] = []
        for word in reversed(_split(window[i].text, _WORD_SPLIT)):
            tokens = _estimate(word)
            if size + tokens > limit:
                break
            words.insert(0, word)
            size += tokens
        if words:
            tail = "".join(words).lstrip()
            kept.insert(0, _Unit(tail, "", _estimate(tail), carried=True))
    return kept
