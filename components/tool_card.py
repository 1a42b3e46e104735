"""An agent's tool call as a card in the conversation: tool, status and time in a line; the arguments and the
result (or the error) inside, collapsed by default (a native <details>: no state, keyboard and screen-reader
friendly). Used for stored replies (`m["tools"]`) and for the reply streaming now (StreamState.tools)."""

from __future__ import annotations

import reflex as rx

STATUS = {  # status -> (label, colour)
    "running": ("Running", "blue"),
    "done": ("Done", "green"),
    "error": ("Failed", "red"),
    "stopped": ("Stopped", "amber"),
}


def _status(card: rx.Var) -> rx.Component:
    status = card["status"].to(str)
    return rx.match(
        status,
        *[
            (key, rx.badge(label, color_scheme=colour, variant="soft", size="1"))
            for key, (label, colour) in STATUS.items()
        ],  # type: ignore[arg-type]
        rx.badge(status, variant="soft", size="1"),
    )


def tool_card(card: rx.Var) -> rx.Component:
    failed = card["error"].to(str) != ""
    return rx.el.details(
        rx.el.summary(
            rx.hstack(
                rx.cond(
                    card["status"] == "running",
                    rx.spinner(size="1"),
                    rx.icon("wrench", size=14, aria_hidden="true"),
                ),
                rx.text(card["name"], size="1", weight="medium", class_name="solo-tool-name"),
                _status(card),
                rx.text(card["time"], size="1", color_scheme="gray"),
                align="center",
                spacing="2",
            ),
            class_name="solo-tool-summary",
        ),
        rx.vstack(
            rx.text("Arguments", size="1", weight="medium", color_scheme="gray"),
            rx.el.pre(card["arguments"], class_name="solo-tool-pre"),
            rx.cond(
                failed,
                rx.fragment(
                    rx.text("Error", size="1", weight="medium", color_scheme="red"),
                    rx.el.pre(card["error"], class_name="solo-tool-pre solo-tool-error"),
                ),
                rx.cond(
                    card["result"] != "",
                    rx.fragment(
                        rx.text("Result", size="1", weight="medium", color_scheme="gray"),
                        rx.el.pre(card["result"], class_name="solo-tool-pre"),
                    ),
                ),
            ),
            spacing="1",
            width="100%",
            class_name="solo-tool-body",
        ),
        class_name="solo-tool-card",
        data_tool=card["name"],
        data_status=card["status"],
    )


def tool_cards(cards: rx.Var) -> rx.Component:
    return rx.cond(
        cards.length() > 0,  # type: ignore[attr-defined]
        rx.vstack(rx.foreach(cards, tool_card), spacing="1", width="100%", class_name="solo-tool-cards"),
    )
