"""What a model answers for a chat's title becomes a plain title (services/turns/title.py)."""

from __future__ import annotations

import pytest

from services.chat import fallback_title
from services.turns.title import MAX_TITLE_CHARS, tidy_title

FIRST = "How do I activate a Python virtual environment on Windows?"


@pytest.mark.parametrize(
    ("raw", "title"),
    [
        ("Activating a venv", "Activating a venv"),
        ("**Activating a venv**", "Activating a venv"),
        ("__Activating__ a *venv*", "Activating a venv"),
        ("***Activating a venv***", "Activating a venv"),
        ("Activating a ~~conda~~ venv", "Activating a conda venv"),
    ],
)
def test_emphasis_is_removed(raw: str, title: str) -> None:
    assert tidy_title(raw, FIRST) == title


@pytest.mark.parametrize(
    "raw", ["# Activating a venv", "### Activating a venv", "> Activating a venv", "- Activating a venv"]
)
def test_headings_quotes_and_bullets_at_the_start_are_removed(raw: str) -> None:
    assert tidy_title(raw, FIRST) == "Activating a venv"


def test_code_marks_and_links_keep_their_text() -> None:
    assert tidy_title("Running `venv\\Scripts\\activate`", FIRST) == "Running venv\\Scripts\\activate"
    assert tidy_title("```Python venvs```", FIRST) == "Python venvs"
    assert tidy_title("[Python venvs](https://docs.python.org)", FIRST) == "Python venvs"
    assert tidy_title("Python <b>venvs</b>", FIRST) == "Python venvs"


@pytest.mark.parametrize(
    "raw",
    [
        '"Activating a venv"',
        "'Activating a venv'",
        "“Activating a venv”",
        "«Activating a venv»",
        '"“Activating a venv”"',
    ],
)
def test_quotes_around_the_whole_title_are_removed(raw: str) -> None:
    assert tidy_title(raw, FIRST) == "Activating a venv"


def test_quotes_inside_the_title_stay() -> None:
    assert tidy_title('The "activate" script on Windows', FIRST) == 'The "activate" script on Windows'


@pytest.mark.parametrize(
    "raw",
    [
        "Title: Activating a venv",
        "title - Activating a venv",
        "**Title:** Activating a venv",
        'Title: "Activating a venv."',
        "Chat title: Activating a venv",
        "Suggested title: **Activating a venv**",
        "The title is: Activating a venv",
        "Sure! Here's a title: Activating a venv",
    ],
)
def test_title_labels_are_removed(raw: str) -> None:
    assert tidy_title(raw, FIRST) == "Activating a venv"


@pytest.mark.parametrize(
    "raw", ["Titles for blog posts", "Title-case rules in English", "Title IX explained"]
)
def test_titles_that_merely_start_with_title_are_kept(raw: str) -> None:
    assert tidy_title(raw, FIRST) == raw


@pytest.mark.parametrize(
    "raw", ["Activating a venv.", "Activating a venv...", "Activating a venv…", "Activating a venv;"]
)
def test_trailing_periods_and_stray_punctuation_go(raw: str) -> None:
    assert tidy_title(raw, FIRST) == "Activating a venv"


def test_questions_and_exclamations_keep_their_mark() -> None:
    assert tidy_title("Why won't my venv activate?", FIRST) == "Why won't my venv activate?"


@pytest.mark.parametrize(
    "raw", ["", "   ", "\n\n", "🐍", "🐍 ✨ 🚀", '"🐍."', "**...**", "<think>Let me think.</think>"]
)
def test_empty_or_emoji_only_falls_back_to_the_first_words(raw: str) -> None:
    assert tidy_title(raw, FIRST) == fallback_title(FIRST)
    assert tidy_title(raw, FIRST).startswith("How do I activate")


def test_emoji_beside_words_is_kept() -> None:
    assert tidy_title("🐍 Python venvs", FIRST) == "🐍 Python venvs"


def test_only_the_first_worded_line_counts() -> None:
    assert tidy_title("\n🐍\nActivating a venv\n\nHere is why this title fits.", FIRST) == "Activating a venv"


def test_reasoning_before_the_title_is_ignored() -> None:
    assert (
        tidy_title("<think>The user asks about venvs.</think>\nActivating a venv", FIRST)
        == "Activating a venv"
    )


def test_a_chatty_reply_gives_its_first_sentence() -> None:
    chatty = "Here is a **markdown** reply with `inline code`. ## A heading with more words after it and more"
    assert tidy_title(chatty, FIRST) == "Here is a markdown reply with inline code"


def test_abbreviations_in_a_short_title_stay() -> None:
    assert tidy_title("Dr. Who fan theories", FIRST) == "Dr. Who fan theories"


def test_long_titles_are_cut_at_a_word_boundary() -> None:
    words = "Comparing virtual environment managers across Windows macOS and Linux for beginners today"
    title = tidy_title(words, FIRST)
    assert len(title) <= MAX_TITLE_CHARS
    assert words.startswith(title)
    assert words[len(title)] == " "  # whole words only
    assert title == "Comparing virtual environment managers across Windows macOS"


def test_a_single_huge_word_is_cut_to_the_limit() -> None:
    assert tidy_title("x" * 200, FIRST) == "x" * MAX_TITLE_CHARS


def test_whitespace_is_collapsed() -> None:
    assert tidy_title("  Activating\t a   venv  ", FIRST) == "Activating a venv"
