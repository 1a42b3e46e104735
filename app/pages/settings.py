"""/settings: name, password, connected accounts, sessions."""

from __future__ import annotations

import reflex as rx

from components.forms import error_callout, field, notice_callout
from components.shell import app_shell
from state.session import SessionState
from state.settings import SettingsState


def _section(title: str, *children: rx.Component) -> rx.Component:
    return rx.card(rx.vstack(rx.heading(title, size="4"), *children, spacing="3", width="100%"), width="100%")


def _connected_accounts() -> rx.Component:
    return _section(
        "Connected accounts",
        rx.text("Providers you can sign in with, besides your password.", size="2", color_scheme="gray"),
        notice_callout(SettingsState.connected_msg),
        rx.cond(
            SettingsState.connected.length() > 0,
            rx.table.root(
                rx.table.header(
                    rx.table.row(
                        rx.table.column_header_cell("Provider"),
                        rx.table.column_header_cell("Email"),
                        rx.table.column_header_cell(""),
                    )
                ),
                rx.table.body(
                    rx.foreach(
                        SettingsState.connected,
                        lambda a, i: rx.table.row(
                            rx.table.cell(a["label"]),
                            rx.table.cell(a["email"]),
                            rx.table.cell(
                                rx.button(
                                    "Disconnect",
                                    size="1",
                                    variant="soft",
                                    color_scheme="red",
                                    aria_label="Disconnect " + a["label"],
                                    on_click=SettingsState.unlink(i),
                                )
                            ),
                        ),
                    )
                ),
                width="100%",
                size="1",
            ),
            rx.text("No provider is connected yet.", size="2"),
        ),
        rx.hstack(
            rx.foreach(
                SettingsState.connectable,
                # A plain anchor: a full page load reaches the server route (rx.link would route client-side).
                lambda p: rx.button(
                    rx.el.a("Connect " + p["label"], href=p["href"], reload_document=True),
                    as_child=True,
                    variant="outline",
                ),
            ),
            spacing="3",
            wrap="wrap",
        ),
    )


def _body() -> rx.Component:
    return rx.vstack(
        error_callout(SettingsState.error),
        _section(
            "Profile",
            rx.text("Email: ", rx.code(SettingsState.email), size="2"),
            rx.form(
                rx.vstack(
                    field("Name", "name", autocomplete="name", default_value=SettingsState.name),
                    rx.hstack(
                        rx.button("Save", type="submit"),
                        notice_callout(SettingsState.profile_msg),
                        align="center",
                    ),
                    spacing="3",
                    width="100%",
                    max_width="420px",
                ),
                on_submit=SettingsState.save_profile,
                key=SettingsState.name,
            ),
        ),
        _section(
            "Password",
            rx.form(
                rx.vstack(
                    rx.cond(
                        SettingsState.has_password,
                        field(
                            "Current password",
                            "current_password",
                            type="password",
                            autocomplete="current-password",
                        ),
                    ),
                    field("New password", "new_password", type="password", autocomplete="new-password"),
                    field(
                        "Repeat new password",
                        "confirm_password",
                        type="password",
                        autocomplete="new-password",
                    ),
                    rx.button("Change password", type="submit"),
                    notice_callout(SettingsState.password_msg),
                    spacing="3",
                    width="100%",
                    max_width="420px",
                ),
                on_submit=SettingsState.change_password,
                reset_on_submit=True,
            ),
        ),
        _connected_accounts(),
        _section(
            "Sessions",
            rx.text("Browsers and devices signed in to your account.", size="2", color_scheme="gray"),
            rx.table.root(
                rx.table.header(
                    rx.table.row(
                        rx.table.column_header_cell("Device"),
                        rx.table.column_header_cell("IP"),
                        rx.table.column_header_cell("Last active"),
                    )
                ),
                rx.table.body(
                    rx.foreach(
                        SettingsState.sessions,
                        lambda s: rx.table.row(
                            rx.table.cell(
                                rx.text(s["device"], size="1"),
                                rx.cond(s["current"] != "", rx.badge("this browser", margin_left="6px")),
                            ),
                            rx.table.cell(s["ip"]),
                            rx.table.cell(s["last_seen"]),
                        ),
                    )
                ),
                width="100%",
                size="1",
            ),
            rx.alert_dialog.root(
                rx.alert_dialog.trigger(rx.button("Log out everywhere", color_scheme="red", variant="soft")),
                rx.alert_dialog.content(
                    rx.alert_dialog.title("Log out everywhere?"),
                    rx.alert_dialog.description(
                        "Every browser signed in to your account, this one included, "
                        "will have to log in again."
                    ),
                    rx.hstack(
                        rx.alert_dialog.cancel(rx.button("Cancel", variant="soft", color_scheme="gray")),
                        rx.alert_dialog.action(
                            rx.button(
                                "Log out all sessions",
                                color_scheme="red",
                                on_click=SettingsState.log_out_everywhere,
                            )
                        ),
                        justify="end",
                        spacing="3",
                        margin_top="16px",
                    ),
                ),
            ),
        ),
        spacing="4",
        width="100%",
    )


def settings() -> rx.Component:
    return app_shell("Settings", _body)


def register(app: rx.App) -> None:
    app.add_page(
        settings, route="/settings", title="Settings", on_load=[SessionState.load_private, SettingsState.load]
    )
