"""The seeded agent templates are well-formed data (services/agents/templates.py)."""

from __future__ import annotations

import dataclasses
import re

import pytest

from services.agents.templates import CATEGORIES, SEEDED, TOOL_NAMES, Template, by_key

REQUIRED = {
    "hybrid-offer": "Hybrid Offer",
    "dcm": "DCM",
    "sales-page-writer": "Sales Page Writer",
    "email-sequence-writer": "Email Sequence Writer",
    "client-onboarding-assistant": "Client Onboarding Assistant",
    "discovery-call-prep": "Discovery Call Prep",
}
IDS = [t.key for t in SEEDED]


def test_keys_are_unique_slugs() -> None:
    keys = [t.key for t in SEEDED]
    assert len(keys) == len(set(keys))
    for key in keys:
        assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", key), key


def test_names_are_unique() -> None:
    names = [t.name for t in SEEDED]
    assert len(names) == len(set(names))


def test_the_required_templates_are_present_with_their_names() -> None:
    seeded = {t.key: t.name for t in SEEDED}
    for key, name in REQUIRED.items():
        assert seeded.get(key) == name


def test_categories_are_the_six_and_every_template_uses_one() -> None:
    assert CATEGORIES == ("Offers", "Content", "Sales", "Email", "Clients", "Calls")
    assert {t.category for t in SEEDED} <= set(CATEGORIES)


@pytest.mark.parametrize("template", SEEDED, ids=IDS)
def test_instructions_are_between_250_and_600_words(template: Template) -> None:
    assert 250 <= len(template.instructions.split()) <= 600


@pytest.mark.parametrize("template", SEEDED, ids=IDS)
def test_instructions_are_second_person_plain_text_with_the_guardrails(template: Template) -> None:
    text = template.instructions
    assert text.startswith("You are ")
    assert not any(line.lstrip().startswith("#") for line in text.splitlines())
    assert "  " not in text and "\n " not in text, "source wrapping leaked into the prompt"
    lowered = text.lower()
    assert "never invent" in lowered
    assert "guarantee" in lowered
    assert "file search is available" in lowered and "source of truth" in lowered


@pytest.mark.parametrize("template", SEEDED, ids=IDS)
def test_exactly_four_distinct_short_starters(template: Template) -> None:
    assert isinstance(template.starters, tuple)
    assert len(template.starters) == 4
    assert len(set(template.starters)) == 4
    for starter in template.starters:
        assert starter.strip() == starter and starter
        assert len(starter) < 90, starter


@pytest.mark.parametrize("template", SEEDED, ids=IDS)
def test_tools_are_known_and_not_repeated(template: Template) -> None:
    assert set(template.tools) <= set(TOOL_NAMES)
    assert len(set(template.tools)) == len(template.tools)
    assert TOOL_NAMES == ("file_search", "web_search", "current_time", "calculator")


@pytest.mark.parametrize("template", SEEDED, ids=IDS)
def test_temperature_is_within_bounds(template: Template) -> None:
    assert isinstance(template.temperature, float)
    assert 0.0 <= template.temperature <= 1.2


@pytest.mark.parametrize("template", SEEDED, ids=IDS)
def test_card_fields_are_short(template: Template) -> None:
    assert len(template.emoji) == 1 and not template.emoji.isascii()
    description = template.description
    assert description.endswith(".") and ". " not in description, "one sentence"
    assert len(description) <= 120


def test_templates_are_frozen() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        SEEDED[0].name = "Other"  # type: ignore[misc]


def test_by_key_finds_each_template() -> None:
    for template in SEEDED:
        assert by_key(template.key) is template


def test_by_key_names_the_unknown_key_and_the_known_ones() -> None:
    with pytest.raises(KeyError) as caught:
        by_key("no-such-agent")
    message = str(caught.value)
    assert "no-such-agent" in message and "hybrid-offer" in message


def test_a_bad_template_is_refused_with_every_problem_named() -> None:
    good = SEEDED[0]
    with pytest.raises(ValueError) as caught:
        dataclasses.replace(
            good,
            key="Bad Key",
            category="Misc",
            starters=("x" * 95,),
            tools=("shell",),
            temperature=1.5,
        )
    message = str(caught.value)
    for part in ("Bad Key", "Misc", "1 conversation starters", "shell", "1.5"):
        assert part in message
