"""/settings: name, password, connected accounts, sessions; for admins, the workspace's storage quota."""

from __future__ import annotations

import reflex as rx

from components.forms import error_callout, field, notice_callout
from components.shell import app_shell
from state.session import SessionState
from state.settings import SettingsState
from state.tool_connections import ToolConnectionsState
from state.workspace_storage import StorageState


def _section(title: str, *children: rx.Component) -> rx.Component:
    # A region named by its heading, so that tests and screen readers find each section by its title.
    return rx.card(
        rx.vstack(rx.heading(title, size="4"), *children, spacing="3", width="100%"),
        width="100%",
        role="region",
        aria_label=title,
    )


def _connected_accounts() -> rx.Component:
    return _section(
        "Connected accounts",
        rx.text("Providers you can sign in with, besides your password.", size="2", color_scheme="gray"),
        error_callout(SettingsState.connected_error),
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


def _tool_connections() -> rx.Component:
    """The member's accounts for the workspace's Composio toolkits (shown when the workspace uses Composio)."""
    return rx.cond(
        (ToolConnectionsState.rows.length() > 0) | (ToolConnectionsState.error != ""),  # type: ignore[attr-defined]
        rx.card(
            rx.vstack(
                rx.heading("Connections", size="4"),
                rx.text(
                    "Accounts your agents' tools use on your behalf. Only you use yours: nobody else in the "
                    "workspace acts through them.",
                    size="2",
                    color_scheme="gray",
                ),
                error_callout(ToolConnectionsState.error),
                rx.foreach(
                    ToolConnectionsState.rows,
                    lambda r: rx.hstack(
                        rx.vstack(
                            rx.text(r["label"], weight="medium", size="2"),
                            rx.text(
                                r["status_label"],
                                size="1",
                                color_scheme=rx.cond(r["status"] == "ACTIVE", "green", "gray"),
                            ),
                            spacing="0",
                        ),
                        rx.cond(
                            (r["needs_account"] == "yes") & (r["status"] != "ACTIVE"),
                            rx.button(
                                "Connect " + r["label"],
                                size="2",
                                variant="outline",
                                on_click=ToolConnectionsState.connect(r["toolkit"]),
                            ),
                        ),
                        justify="between",
                        align="center",
                        width="100%",
                        class_name="solo-connection-row",
                        data_toolkit=r["toolkit"],
                    ),
                ),
                spacing="3",
                width="100%",
            ),
            width="100%",
            role="region",
            aria_label="Connections",
        ),
    )


def _profile() -> rx.Component:
    return _section(
        "Profile",
        rx.text("Email: ", rx.code(SettingsState.email), size="2"),
        rx.form(
            rx.vstack(
                field("Name", "name", autocomplete="name", default_value=SettingsState.name),
                error_callout(SettingsState.profile_error),
                notice_callout(SettingsState.profile_msg),
                rx.button("Save", type="submit"),
                spacing="3",
                width="100%",
                max_width="420px",
            ),
            on_submit=SettingsState.save_profile,
            key=SettingsState.name,  # a saved name refills the field; after an error it keeps what was typed
        ),
    )


def _password() -> rx.Component:
    return _section(
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
                error_callout(SettingsState.password_error),
                notice_callout(SettingsState.password_msg),
                rx.button("Change password", type="submit"),
                spacing="3",
                width="100%",
                max_width="420px",
            ),
            on_submit=SettingsState.change_password,
            key=SettingsState.password_form.to_string(),  # emptied after a change, kept after an error
        ),
    )


def _session_row(s: rx.Var, i: rx.Var) -> rx.Component:
    return rx.table.row(
        rx.table.cell(
            rx.vstack(
                rx.hstack(
                    rx.text(s["device"], size="2", weight="medium"),
                    rx.cond(s["current"] != "", rx.badge("This device", color_scheme="green")),
                    align="center",
                    spacing="2",
                    wrap="wrap",
                ),
                rx.text(
                    "IP ",
                    s["ip"],
                    " · last active ",
                    s["last_seen"],
                    " · signed in ",
                    s["signed_in"],
                    size="1",
                    color_scheme="gray",
                ),
                spacing="1",
            )
        ),
        rx.table.cell(
            rx.cond(
                s["current"] != "",
                rx.button(
                    "Log out",
                    size="1",
                    variant="soft",
                    color_scheme="gray",
                    aria_label="Log out of this device",
                    white_space="nowrap",
                    on_click=SettingsState.revoke_session(i),
                ),
                rx.button(
                    "Revoke",
                    size="1",
                    variant="soft",
                    color_scheme="red",
                    aria_label="Revoke " + s["device"].to(str) + ", last active " + s["last_seen"].to(str),
                    on_click=SettingsState.revoke_session(i),
                ),
            ),
            text_align="right",
        ),
        align="center",
    )


def _sessions() -> rx.Component:
    return _section(
        "Sessions",
        rx.text(
            "Browsers and devices signed in to your account. Revoke one you do not recognise or no longer use.",
            size="2",
            color_scheme="gray",
        ),
        error_callout(SettingsState.sessions_error),
        notice_callout(SettingsState.sessions_msg),
        rx.table.root(
            rx.table.body(rx.foreach(SettingsState.sessions, _session_row)),
            width="100%",
            size="1",
        ),
        rx.alert_dialog.root(
            rx.alert_dialog.trigger(rx.button("Log out everywhere", color_scheme="red", variant="soft")),
            rx.alert_dialog.content(
                rx.alert_dialog.title("Log out everywhere?"),
                rx.alert_dialog.description(
                    "Every browser signed in to your account, this one included, will have to log in again."
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
    )


def _storage() -> rx.Component:
    """The workspace's storage (admins only; every handler checks again on the server)."""
    return rx.cond(
        StorageState.allowed,
        _section(
            "Storage",
            rx.text(
                "Files uploaded by everybody in this workspace count against its quota.",
                size="2",
                color_scheme="gray",
            ),
            rx.text(
                "Used ",
                rx.text.strong(StorageState.used),
                " of ",
                rx.text.strong(StorageState.quota),
                rx.cond(StorageState.own_quota, " (this workspace's quota)", " (the server's limit)"),
                ". The server allows up to ",
                StorageState.server_limit,
                ".",
                size="2",
                id="storage-usage",
            ),
            error_callout(StorageState.error),
            notice_callout(StorageState.notice),
            rx.form(
                rx.vstack(
                    rx.box(
                        field(
                            "Storage quota (MB)",
                            "quota_mb",
                            type="number",
                            default_value=StorageState.quota_mb,
                            placeholder="the server's limit",
                        ),
                        width="100%",
                        max_width="240px",
                    ),
                    rx.hstack(
                        rx.button("Save", type="submit"),
                        rx.cond(
                            StorageState.own_quota,
                            rx.button(
                                "Use the server's limit",
                                type="button",
                                variant="soft",
                                color_scheme="gray",
                                on_click=StorageState.use_server_limit,
                            ),
                        ),
                        spacing="3",
                        wrap="wrap",
                    ),
                    spacing="3",
                    width="100%",
                ),
                key=StorageState.form_key.to_string(),
                on_submit=StorageState.save,
            ),
        ),
    )


def _delete_account() -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.heading("Delete account", size="4"),
            rx.text(
                "Deletes your account and everything that is yours in this workspace, for good: your chats, files, "
                "memories and sessions. It cannot be undone; export what you want to keep first.",
                size="2",
                color_scheme="gray",
            ),
            rx.form(
                rx.vstack(
                    rx.text("To confirm, type ", rx.text.strong(SettingsState.email), " below.", size="2"),
                    field("Your email address", "confirm_email", autocomplete="off"),
                    error_callout(SettingsState.delete_error),
                    rx.button("Delete my account", type="submit", color_scheme="red"),
                    spacing="3",
                    width="100%",
                    max_width="420px",
                ),
                on_submit=SettingsState.delete_account,
            ),
            spacing="3",
            width="100%",
        ),
        width="100%",
        role="region",
        aria_label="Delete account",
    )


def _body() -> rx.Component:
    return rx.vstack(
        error_callout(SettingsState.error),
        _profile(),
        _password(),
        _connected_accounts(),
        _sessions(),
        _tool_connections(),
        _storage(),
        _delete_account(),
        spacing="4",
        width="100%",
    )


def settings() -> rx.Component:
    return app_shell("Settings", _body)


def register(app: rx.App) -> None:
    app.add_page(
        settings,
        route="/settings",
        title="Settings",
        on_load=[SessionState.load_private, SettingsState.load, StorageState.load, ToolConnectionsState.load],
    )
