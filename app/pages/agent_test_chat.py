"""The agent builder's right column: the preview card and the live test chat (AgentTestState)."""

from __future__ import annotations

import reflex as rx

from components.agent_card import agent_card, badge, plan_badge
from components.forms import error_callout
from components.markdown import safe_markdown
from components.tool_card import tool_cards
from state.agent_builder import TEST_INPUT_ID, AgentBuilderState
from state.agent_test import AgentTestState

B = AgentBuilderState
T = AgentTestState


# The builder: preview and test chat ---------------------------------------------------------------------


def preview() -> rx.Component:
    visibility = rx.match(B.visibility, ("featured", "Featured"), ("tenant", "Shared"), "Private")
    color = rx.match(B.visibility, ("featured", "amber"), ("tenant", "blue"), "gray")
    plan = rx.match(B.min_plan, ("pro", "Pro"), ("premium", "Premium"), "")
    return rx.el.section(
        rx.text("Preview", size="1", weight="bold", color_scheme="gray", class_name="agent-side-label"),
        agent_card(
            avatar=rx.cond(B.avatar_url != "", "", B.avatar),
            avatar_url=B.avatar_url,
            name=rx.cond(B.name != "", B.name, "Untitled agent"),
            description=B.description,
            category=B.category,
            badges=[badge(visibility, color), plan_badge(plan)],
            class_name="agent-preview",
            empty_description="Its description shows here.",
        ),
        aria_label="Preview",
    )


def _bubble(m: rx.Var) -> rx.Component:
    error = m["error"].to(str)
    return rx.cond(
        m["role"] == "user",
        rx.el.div(rx.el.div(m["text"], class_name="agent-bubble"), class_name="agent-msg agent-msg-user"),
        rx.el.div(
            rx.el.div(
                tool_cards(m["parts"].to(list[dict[str, str]])),
                rx.cond(m["text"] != "", safe_markdown(m["text"].to(str))),
                rx.cond(
                    error != "",
                    rx.text(
                        error,
                        size="1",
                        class_name=rx.cond(error == "Stopped.", "agent-note", "agent-note-error"),
                    ),
                ),
                class_name="agent-bubble",
            ),
            class_name="agent-msg agent-msg-agent",
        ),
    )


def _streaming() -> rx.Component:
    return rx.cond(
        T.running,
        rx.el.div(
            rx.el.div(
                tool_cards(T.parts),
                rx.cond(
                    T.text != "",
                    safe_markdown(T.text),
                    rx.flex(rx.spinner(size="1"), rx.text("Thinking…", size="1"), gap="2", align="center"),
                ),
                class_name="agent-bubble",
            ),
            class_name="agent-msg agent-msg-agent",
            aria_busy="true",
        ),
    )


def _test_empty() -> rx.Component:
    return rx.cond(
        (T.messages.length() == 0) & ~T.running,
        rx.vstack(
            rx.text(
                "Ask what a member would ask, and see how the agent answers.", size="2", color_scheme="gray"
            ),
            rx.flex(
                rx.foreach(
                    B.starters,
                    lambda s: rx.cond(
                        s != "",
                        rx.button(
                            s,
                            size="1",
                            variant="outline",
                            color_scheme="gray",
                            type="button",
                            on_click=T.send({"message": s}),
                            class_name="agent-starter-chip",
                        ),
                    ),
                ),
                wrap="wrap",
                gap="2",
            ),
            spacing="2",
            class_name="agent-test-empty",
        ),
    )


def test_chat() -> rx.Component:
    return rx.el.section(
        rx.flex(
            rx.heading("Test", size="3", id="agent-test-title"),
            rx.button(
                rx.icon("eraser", size=14),
                "Clear",
                size="1",
                variant="ghost",
                color_scheme="gray",
                on_click=T.clear,
                disabled=T.running | (T.messages.length() == 0),
            ),
            class_name="agent-test-head",
        ),
        rx.text(
            "Runs the form as it is now, without saving. Nothing is stored.", size="1", color_scheme="gray"
        ),
        rx.el.div(
            _test_empty(),
            rx.foreach(T.messages, _bubble),
            _streaming(),
            role="log",
            aria_label="Test conversation",
            aria_live="polite",
            class_name="agent-test-log",
        ),
        error_callout(T.error),
        rx.form(
            rx.input(
                id=TEST_INPUT_ID,
                name="message",
                placeholder="Write a test message",
                aria_label="Test message",
                auto_complete="off",
                max_length=8000,
                width="100%",
                size="2",
            ),
            rx.cond(
                T.running,
                rx.button(
                    rx.icon("square", size=14), "Stop", type="button", color_scheme="red", on_click=T.stop
                ),
                rx.button(rx.icon("send_horizontal", size=14), "Test", type="submit"),
            ),
            on_submit=T.send,
            reset_on_submit=False,
            class_name="agent-test-form",
        ),
        aria_labelledby="agent-test-title",
        class_name="agent-test",
    )
