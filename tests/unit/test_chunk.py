"""Chunks of a few hundred tokens (services/knowledge/chunk.py): sizes, overlap, page and heading boundaries,
and the offline token estimate against real cl100k_base counts."""

from __future__ import annotations

import itertools
import random

import pytest

from services.knowledge.chunk import Chunk, chunk, count_tokens
from services.knowledge.extract import Section

# Real cl100k_base token counts of short strings. They were computed once with an offline cl100k tokenizer
# (not tiktoken, which downloads its encoding) and are hard-coded here; the estimate must track them.
KNOWN_ENGLISH = [
    ("hello world", 2),
    ("The quick brown fox jumps over the lazy dog.", 10),
    (
        "Retrieval-augmented generation combines search with language models, so that answers can cite "
        "the documents they came from.",
        24,
    ),
    (
        "In 2024, the company reported revenue of $3,456,789 and hired 120 new employees across 14 offices.",
        27,
    ),
    ("Please remove the password from the PDF and upload it again; encrypted files cannot be read.", 18),
]
KNOWN_OTHER = [
    ("\u6211\u4eec\u7684\u4f1a\u8bae\u5c06\u5728\u660e\u5929\u4e0b\u5348\u4e09\u70b9\u5f00\u59cb\u3002", 14),
    ("\u041f\u0440\u0438\u0432\u0435\u0442, \u043a\u0430\u043a \u0434\u0435\u043b\u0430? \u042d\u0442\u043e "
     "\u0442\u0435\u0441\u0442\u043e\u0432\u044b\u0439 \u0442\u0435\u043a\u0441\u0442.", 16),
    ("def add(a, b):\n    return a + b\n", 12),
    ('{"name": "Alice", "age": 30, "tags": ["admin", "editor"]}', 21),
]  # fmt: skip

WORDS = (
    "the of and to in is that for it as with was on be by this are from at or an which have not has but "
    "document search answer model token chunk page heading section paragraph sentence upload tenant file "
    "knowledge retrieval embedding vector index query result citation source summary language"
).split()


def _prose(rng: random.Random, sentences: int) -> str:
    out = []
    for _ in range(sentences):
        words = [rng.choice(WORDS) for _ in range(rng.randint(6, 18))]
        out.append(" ".join(words).capitalize() + ".")
    return " ".join(out)


@pytest.mark.parametrize(("text", "real"), KNOWN_ENGLISH)
def test_the_estimate_tracks_cl100k_on_english(text: str, real: int) -> None:
    assert abs(count_tokens(text) - real) <= max(1, real * 0.15)


@pytest.mark.parametrize(("text", "real"), KNOWN_OTHER)
def test_the_estimate_is_near_cl100k_on_other_text(text: str, real: int) -> None:
    assert abs(count_tokens(text) - real) <= max(1, real * 0.25)


def test_the_estimate_grows_with_the_text() -> None:
    assert count_tokens("") == 0
    assert count_tokens("word") == 1
    assert count_tokens("antidisestablishmentarianism") > count_tokens("establishment") >= 1
    assert count_tokens("QmFzZTY0IGVuY29kZWQgZGF0YQ==") > 8  # random letters cost more than a word
    one = count_tokens("A sentence of nine words for the estimate here.")
    assert 9 <= one <= 11
    assert count_tokens(" ".join(["A sentence of nine words for the estimate here."] * 100)) == pytest.approx(
        100 * one, rel=0.05
    )


def _overlap(a: str, b: str) -> str:
    """The longest end of `a` that starts `b`."""
    for k in range(min(len(a), len(b)), 0, -1):
        if a.endswith(b[:k]):
            return b[:k]
    return ""


def _check(chunks: list[Chunk], max_tokens: int) -> None:
    assert [c.ordinal for c in chunks] == list(range(len(chunks)))
    for c in chunks:
        assert c.text == c.text.strip() and c.text
        assert c.tokens == count_tokens(c.text)
        assert c.tokens <= max_tokens


def test_paragraphs_are_kept_whole_and_chunks_overlap(tmp_path: object) -> None:
    rng = random.Random(7)
    paragraphs = [_prose(rng, rng.randint(2, 5)) for _ in range(40)]
    chunks = chunk([Section("\n\n".join(paragraphs), page=3, heading="Methods")], max_tokens=200, overlap=40)
    _check(chunks, 200)
    assert len(chunks) > 5
    assert all(c.page == 3 and c.heading == "Methods" for c in chunks)
    for prev, nxt in itertools.pairwise(chunks):
        shared = _overlap(prev.text, nxt.text)
        assert 10 <= count_tokens(shared) <= 40, (prev.text[-200:], nxt.text[:200])
        assert prev.text.endswith(".")  # cut at a sentence's end at least
    # Most chunks end where a paragraph ends (a cut inside one only when that would leave a chunk half empty).
    ends = sum(1 for c in chunks if any(c.text.endswith(p) for p in paragraphs))
    assert ends >= len(chunks) * 0.6
    # Nothing is lost: every paragraph's text is in some chunk.
    joined = "\n".join(c.text for c in chunks)
    for p in paragraphs:
        for sentence in p.split(". "):
            assert sentence.rstrip(".") in joined


def test_a_long_paragraph_is_cut_between_sentences() -> None:
    rng = random.Random(11)
    text = _prose(rng, 120)  # one paragraph of ~1500 tokens
    chunks = chunk([Section(text)], max_tokens=150, overlap=30)
    _check(chunks, 150)
    assert all(c.text.endswith(".") for c in chunks)
    assert all(c.text[0].isupper() or c.text.split()[0] in WORDS for c in chunks)


def test_a_long_sentence_is_cut_between_words_and_a_long_run_by_characters() -> None:
    rng = random.Random(5)
    words = [rng.choice(WORDS) for _ in range(1500)]
    chunks = chunk([Section(" ".join(words))], max_tokens=100, overlap=20)
    _check(chunks, 100)
    for c in chunks:
        assert set(c.text.split()) <= set(WORDS)  # no word was cut
    assert chunks[-1].text.endswith(words[-1])
    blob = "".join(
        rng.choice("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+/") for _ in range(6000)
    )
    pieces = chunk([Section(blob)], max_tokens=120, overlap=0)
    _check(pieces, 120)
    assert "".join(p.text for p in pieces) == blob


def test_chunks_never_cross_pages_and_carry_page_and_heading() -> None:
    rng = random.Random(3)
    sections = [
        Section(_prose(rng, 30), page=1, heading=None),
        Section("Short page two.", page=2, heading="Appendix"),
        Section("   \n\n ", page=3, heading="Blank"),
        Section(_prose(rng, 30), page=4, heading="Appendix B"),
    ]
    chunks = chunk(sections, max_tokens=120, overlap=20)
    _check(chunks, 120)
    by_page: dict[int | None, list[Chunk]] = {}
    for c in chunks:
        by_page.setdefault(c.page, []).append(c)
    assert sorted(p for p in by_page if p is not None) == [1, 2, 4]
    assert [c.text for c in by_page[2]] == ["Short page two."]
    assert all(c.heading is None for c in by_page[1]) and all(c.heading == "Appendix B" for c in by_page[4])
    for c in by_page[1]:
        assert (
            c.text in sections[0].text
            or _overlap(c.text, sections[0].text)
            or c.text[:20] in sections[0].text
        )
        assert "Short page two" not in c.text
    # Ordinals run across pages in document order.
    assert [c.page for c in chunks] == sorted(c.page for c in chunks if c.page is not None)


def test_small_sections_are_one_chunk_each_without_repetition() -> None:
    chunks = chunk([Section("One.", 1, "A"), Section("Two.\n\nThree.", 2, "B")])
    assert [(c.ordinal, c.text, c.page, c.heading) for c in chunks] == [
        (0, "One.", 1, "A"),
        (1, "Two.\n\nThree.", 2, "B"),
    ]
    assert chunk([]) == []


def test_limits_are_checked() -> None:
    with pytest.raises(ValueError):
        chunk([Section("text")], max_tokens=1)
    # An overlap as large as the chunk is reduced to half of it, so every chunk still brings new text.
    rng = random.Random(1)
    chunks = chunk([Section(_prose(rng, 40))], max_tokens=80, overlap=500)
    _check(chunks, 80)
    assert len({c.text for c in chunks}) == len(chunks)
