"""404."""

from __future__ import annotations

import reflex as rx

from components.shell import branded
from state.session import SessionState


def not_found() -> rx.Component:
    return branded(
        rx.center(
            rx.vstack(
                rx.heading("Page not found", size="7"),
                rx.text("There is nothing at this address.", color_scheme="gray"),
                rx.link(rx.button("Go to your workspace"), href="/"),
                align="center",
                spacing="4",
            ),
            min_height="100vh",
        )
    )


def register(app: rx.App) -> None:
    app.add_page(not_found, route="404", title="Page not found", on_load=SessionState.load_brand)
