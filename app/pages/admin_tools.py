"""/admin/tools: owners and admins add the MCP servers whose tools their workspace's agents may call, and see the
built-in tools every agent has."""

from __future__ import annotations

import reflex as rx

from components.forms import confirm_dialog, error_callout, field, notice_callout
from components.shell import app_shell
from state.admin_composio import ComposioAdminState
from state.admin_tools import AdminToolsState as S
from state.session import SessionState


def _warning_callout(message: rx.Var) -> rx.Component:
    return rx.cond(
        message != "",
        rx.callout(message, icon="triangle_alert", color_scheme="amber", role="alert", width="100%"),
    )


# The list of servers ---------------------------------------------------------------------------------------


def _tool(t: rx.Var) -> rx.Component:
    return rx.el.li(
        rx.code(t["name"], size="1", class_name="tools-name"),
        rx.cond(t["description"] != "", rx.el.span(t["description"], class_name="tools-desc")),
    )


def _tools(s: rx.Var) -> rx.Component:
    tools = s["tools"].to(list[dict[str, str]])
    return rx.cond(
        tools.length() > 0,  # type: ignore[attr-defined]
        # Few tools show open; many start collapsed (the badge beside the name says how many).
        rx.el.details(
            rx.el.summary("Tools", class_name="tools-summary"),
            rx.el.ul(rx.foreach(tools, _tool), class_name="tools-list"),
            open=~s["many"].to(bool),
            class_name="tools-details",
        ),
        rx.cond(
            s["error"] == "",
            rx.text("It lists no tools.", size="2", color_scheme="gray"),
        ),
    )


def _headers(s: rx.Var) -> rx.Component:
    names = s["headers"].to(list[str])
    return rx.cond(
        names.length() > 0,  # type: ignore[attr-defined]
        rx.flex(
            rx.foreach(
                names,
                lambda n: rx.badge(
                    rx.icon("key_round", size=12), n, ": ••••", color_scheme="gray", variant="surface"
                ),
            ),
            spacing="2",
            wrap="wrap",
        ),
        rx.text("No headers", size="1", color_scheme="gray"),
    )


def _server(s: rx.Var) -> rx.Component:
    name = s["name"].to(str)
    enabled = s["enabled"].to(bool)
    return rx.el.li(
        rx.box(
            _server_body(s),
            class_name=rx.cond(enabled, "tools-server", "tools-server tools-server-off"),
            role="group",
            aria_label=name,
        )
    )


def _server_body(s: rx.Var) -> rx.Component:
    name = s["name"].to(str)
    enabled = s["enabled"].to(bool)
    return rx.fragment(
        rx.flex(
            rx.vstack(
                rx.hstack(
                    rx.text(s["name"], weight="bold", size="3", class_name="tools-server-name"),
                    rx.cond(
                        s["error"] != "",
                        rx.badge("error", color_scheme="red", variant="soft"),
                        rx.badge(s["count"], color_scheme="gray", variant="soft"),
                    ),
                    rx.cond(~enabled, rx.badge("off", color_scheme="gray", variant="outline")),
                    spacing="2",
                    align="center",
                    wrap="wrap",
                ),
                rx.text(s["url"], size="1", color_scheme="gray", class_name="tools-url"),
                spacing="1",
                min_width="0",
                flex="1",
            ),
            rx.el.label(
                rx.switch(
                    checked=enabled,
                    on_change=lambda on: S.set_enabled(s["id"], on),
                ),
                rx.text("Enabled", size="2"),
                class_name="tools-switch",
            ),
            justify="between",
            align="start",
            spacing="3",
            width="100%",
        ),
        _headers(s),
        rx.cond(
            s["error"] != "",
            rx.callout(s["error"], icon="plug_zap", color_scheme="red", size="1", width="100%"),
        ),
        _tools(s),
        rx.hstack(
            rx.button(
                rx.icon("refresh_cw", size=14),
                "Check again",
                size="1",
                variant="soft",
                loading=S.checking == s["id"],
                on_click=S.check_again(s["id"]),
            ),
            rx.button(
                "Remove",
                size="1",
                variant="soft",
                color_scheme="red",
                aria_label="Remove " + name,
                on_click=S.ask_remove(s["id"]),
            ),
            spacing="2",
            justify="end",
            width="100%",
        ),
    )


def _servers() -> rx.Component:
    return rx.vstack(
        rx.text(
            "Agents of this workspace can call the tools of the servers added here. A server's tools are "
            "offered in the agent builder under the names shown (mcp_<server>_<tool>); turning a server off "
            "takes its tools away from every agent until it is on again.",
            size="2",
            color_scheme="gray",
        ),
        error_callout(S.error),
        notice_callout(S.notice),
        rx.cond(
            S.servers.length() > 0,  # type: ignore[attr-defined]
            rx.el.ul(rx.foreach(S.servers, _server), class_name="tools-servers", aria_label="MCP servers"),
            rx.box(
                rx.icon("plug", size=20),
                rx.text("No MCP servers yet.", weight="medium", size="2"),
                rx.text(
                    "Add one below: its tools become available to this workspace's agents.",
                    size="2",
                    color_scheme="gray",
                ),
                class_name="tools-empty",
            ),
        ),
        spacing="3",
        width="100%",
    )


# The form --------------------------------------------------------------------------------------------------


def _header_row(row: rx.Var) -> rx.Component:
    # Each input sits inside its label (which names it): no ids, which Reflex would turn into one shared ref.
    return rx.flex(
        rx.el.label(
            rx.el.span("Header name", class_name="solo-label"),
            rx.input(
                name=f"header_name_{row}",
                placeholder="Authorization",
                auto_complete="off",
                spell_check=False,
                size="3",
                width="100%",
            ),
            class_name="tools-header-field tools-header-name",
        ),
        rx.el.label(
            rx.el.span("Header value", class_name="solo-label"),
            rx.input(
                name=f"header_value_{row}",
                type="password",
                placeholder="Bearer …",
                auto_complete="new-password",  # never the browser's saved sign-in password
                spell_check=False,
                size="3",
                width="100%",
            ),
            class_name="tools-header-field tools-header-value",
        ),
        rx.icon_button(
            rx.icon("x", size=16),
            type="button",
            variant="ghost",
            color_scheme="gray",
            size="2",
            aria_label="Remove this header",
            on_click=S.remove_header_row(row),
            class_name="tools-header-remove",
        ),
        spacing="3",
        align="end",
        width="100%",
        class_name="tools-header-row",
        key=row,  # its own key: removing one row leaves what was typed in the others
    )


def _add_form() -> rx.Component:
    return rx.form(
        rx.vstack(
            field("Name", "name", placeholder="Our CRM"),
            field("URL", "url", type="url", placeholder="https://example.com/mcp"),
            rx.el.fieldset(
                rx.el.legend("Headers", class_name="solo-label"),
                rx.text(
                    "Sent with every request, e.g. Authorization: Bearer and the server's token. Values are "
                    "stored encrypted and never shown again.",
                    size="1",
                    color_scheme="gray",
                ),
                rx.foreach(S.header_rows, _header_row),
                rx.cond(
                    S.header_rows.length() < 10,  # type: ignore[attr-defined]
                    rx.button(
                        rx.icon("plus", size=14),
                        "Add a header",
                        type="button",
                        variant="ghost",
                        size="1",
                        on_click=S.add_header_row,
                        class_name="tools-add-header",
                    ),
                ),
                class_name="tools-headers",
            ),
            error_callout(S.add_error),
            _warning_callout(S.add_warning),
            notice_callout(S.add_notice),
            rx.hstack(
                rx.button("Add server", type="submit", loading=S.adding),
                rx.cond(
                    S.adding,
                    rx.text("Connecting and listing its tools…", size="1", color_scheme="gray"),
                ),
                align="center",
                spacing="3",
                wrap="wrap",
            ),
            spacing="3",
            width="100%",
            max_width="560px",
        ),
        id="mcp-server-form",
        key=S.form_key,
        on_submit=S.add_server,
    )


# Built-in tools and the page -------------------------------------------------------------------------------


def _builtins() -> rx.Component:
    return rx.vstack(
        rx.text(
            "Every agent can offer these, whatever servers are added here.", size="2", color_scheme="gray"
        ),
        rx.el.ul(
            rx.foreach(
                S.builtins,
                lambda t: rx.el.li(
                    rx.code(t["name"], size="1", class_name="tools-name"),
                    rx.el.span(t["description"], class_name="tools-desc"),
                ),
            ),
            class_name="tools-list",
            aria_label="Built-in tools",
        ),
        spacing="3",
        width="100%",
    )


def _remove_dialog() -> rx.Component:
    return confirm_dialog(
        "Remove " + S.remove_name + "?",
        "Agents can no longer call its tools, and its stored headers are deleted. Agents that offered them keep working without them. To use it again, add it again with its headers.",
        "Remove server",
        on_confirm=S.confirm_remove,
        open=S.remove_open,
        on_open_change=S.remove_dialog_changed,
    )


def _composio() -> rx.Component:
    c = ComposioAdminState
    return rx.vstack(
        rx.text(
            "Composio toolkits give agents web search and apps such as GoHighLevel. Each member connects their own "
            "accounts under Settings → Connections.",
            size="2",
            color_scheme="gray",
        ),
        rx.text("Key in use: ", rx.text.strong(c.source_label), size="2", id="composio-source"),
        rx.form(
            rx.vstack(
                field(
                    "Composio API key", "composio_key", type="password", autocomplete="off", required=False
                ),
                rx.text("Leave it empty to keep the key in use.", size="1", color_scheme="gray"),
                field("Toolkits", "composio_toolkits", default_value=c.toolkits, required=False),
                rx.text(
                    "Composio toolkit slugs, separated by commas: composio_search (web search), highlevel "
                    "(GoHighLevel), gmail, …",
                    size="1",
                    color_scheme="gray",
                ),
                error_callout(c.error),
                notice_callout(c.notice),
                rx.hstack(
                    rx.button("Save Composio settings", type="submit"),
                    rx.cond(
                        c.source == "workspace",
                        rx.button(
                            "Use the server's key", type="button", variant="soft", on_click=c.use_server_key
                        ),
                    ),
                    spacing="3",
                    wrap="wrap",
                ),
                spacing="2",
                width="100%",
                max_width="560px",
            ),
            key=c.form_key,
            on_submit=c.save,
            reset_on_submit=True,
        ),
        spacing="3",
        width="100%",
    )


def _card(title: str, body: rx.Component) -> rx.Component:
    return rx.card(
        rx.vstack(rx.heading(title, size="4"), body, spacing="3", width="100%"),
        width="100%",
        role="region",
        aria_label=title,  # the heading's text: tests and screen readers find the section by it
    )


def _body() -> rx.Component:
    return rx.cond(
        S.allowed,
        rx.vstack(
            rx.text(
                "Tools let agents act while they answer: look something up, calculate, search files. The "
                "built-in tools are always there; MCP servers (Model Context Protocol) add your own.",
                size="2",
                color_scheme="gray",
            ),
            _card("MCP servers", _servers()),
            _card("Add an MCP server", _add_form()),
            _card("Composio", _composio()),
            _card("Built-in tools", _builtins()),
            _remove_dialog(),
            spacing="4",
            width="100%",
        ),
        error_callout(S.error),
    )


def admin_tools() -> rx.Component:
    return app_shell("Tools", _body)


def register(app: rx.App) -> None:
    app.add_page(
        admin_tools,
        route="/admin/tools",
        title="Tools",
        on_load=[SessionState.load_private, S.load, ComposioAdminState.load],
    )
