"""'Used N memories' under a reply (state/memory_use.py): the memories it was given, each with Edit and Forget."""

from __future__ import annotations

import reflex as rx

from state.memory_use import MemoryUseState


def _item(i: rx.Var) -> rx.Component:
    return rx.hstack(
        rx.text(i["text"], size="1", class_name="solo-memory-used-text"),
        rx.link(
            "Edit", href="/memory?edit=" + i["id"].to(str), size="1", aria_label="Edit " + i["text"].to(str)
        ),
        rx.button(
            "Forget",
            size="1",
            variant="ghost",
            color_scheme="red",
            aria_label="Forget " + i["text"].to(str),
            on_click=MemoryUseState.forget(i["id"]),
        ),
        align="center",
        spacing="2",
        width="100%",
    )


def used_memories(m: rx.Var) -> rx.Component:
    ids = m["memories"].to(list[str])
    count = ids.length()  # type: ignore[attr-defined]
    shown = MemoryUseState.open_for == m["id"]
    return rx.cond(
        count > 0,
        rx.vstack(
            rx.button(
                rx.icon("brain", size=14, aria_hidden="true"),
                rx.cond(count == 1, "Used 1 memory", "Used " + count.to(str) + " memories"),
                rx.icon(rx.cond(shown, "chevron_up", "chevron_down"), size=14, aria_hidden="true"),
                size="1",
                variant="ghost",
                color_scheme="gray",
                aria_expanded=rx.cond(shown, "true", "false"),
                on_click=MemoryUseState.toggle(m["id"].to(str), ids),
            ),
            rx.cond(
                shown,
                rx.vstack(
                    rx.foreach(MemoryUseState.items, _item),
                    rx.cond(
                        (MemoryUseState.items.length() == 0) & (MemoryUseState.error == ""),  # type: ignore[attr-defined]
                        rx.text("None of them is kept any more.", size="1", color_scheme="gray"),
                    ),
                    rx.cond(
                        MemoryUseState.error != "",
                        rx.text(MemoryUseState.error, size="1", color_scheme="red"),
                    ),
                    class_name="solo-memory-used",
                    spacing="1",
                    width="100%",
                ),
            ),
            spacing="1",
            width="100%",
        ),
    )
