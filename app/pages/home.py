"""/ : the workspace home."""

from __future__ import annotations

import reflex as rx

from components.shell import app_shell
from state.session import SessionState


def _body() -> rx.Component:
    return rx.vstack(
        rx.card(
            rx.vstack(
                rx.heading("Welcome, ", SessionState.user_name, size="5"),
                rx.text(
                    "You are signed in to ",
                    rx.text.strong(SessionState.tenant_name),
                    " as ",
                    SessionState.user_role,
                    ".",
                ),
                rx.text(
                    "Chat with AI models, agents, courses and files arrive here as they are built.",
                    color_scheme="gray",
                    size="2",
                ),
                spacing="2",
            ),
            width="100%",
        ),
        rx.hstack(
            rx.link(
                rx.button(rx.icon("settings", size=16), "Account settings", variant="soft"), href="/settings"
            ),
            rx.cond(
                SessionState.can_manage_members,
                rx.link(
                    rx.button(rx.icon("users", size=16), "Manage members", variant="soft"), href="/members"
                ),
            ),
            wrap="wrap",
        ),
        spacing="4",
        width="100%",
    )


def home() -> rx.Component:
    return app_shell("Home", _body)


def register(app: rx.App) -> None:
    app.add_page(home, route="/", title="Home", on_load=SessionState.load_private)
