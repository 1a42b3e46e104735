"""/ (a new chat) and /c/[cid] (a conversation)."""

from __future__ import annotations

import reflex as rx

from components.chat_io import export_menu_items
from components.markdown import safe_markdown
from components.shell import signed_in, top_bar
from components.sidebar import dialogs, sidebar, sidebar_content
from state.chat import ChatState, StreamState
from state.chat_stream import ReplyState
from state.session import SessionState


def markdown(text: rx.Var) -> rx.Component:
    return safe_markdown(text)


def branch_nav(m: rx.Var) -> rx.Component:
    return rx.cond(
        m["count"].to(int) > 1,
        rx.hstack(
            rx.icon_button(
                rx.icon("chevron_left", size=14),
                size="1",
                variant="ghost",
                aria_label="Previous version",
                disabled=m["prev_id"] == "",
                on_click=ChatState.show_sibling(m["prev_id"]),
            ),
            rx.text(m["index"].to(str) + "/" + m["count"].to(str), size="1", class_name="solo-branch"),
            rx.icon_button(
                rx.icon("chevron_right", size=14),
                size="1",
                variant="ghost",
                aria_label="Next version",
                disabled=m["next_id"] == "",
                on_click=ChatState.show_sibling(m["next_id"]),
            ),
            spacing="1",
            align="center",
        ),
    )


def message_actions(m: rx.Var) -> rx.Component:
    return rx.hstack(
        branch_nav(m),
        rx.icon_button(
            rx.icon("copy", size=14),
            size="1",
            variant="ghost",
            aria_label="Copy",
            on_click=rx.set_clipboard(m["text"].to(str)),
        ),
        rx.cond(
            m["role"] == "user",
            rx.icon_button(
                rx.icon("pencil", size=14),
                size="1",
                variant="ghost",
                aria_label="Edit",
                on_click=ChatState.start_edit(m["id"]),
                disabled=ChatState.streaming,
            ),
            rx.icon_button(
                rx.icon("refresh_cw", size=14),
                size="1",
                variant="ghost",
                aria_label="Regenerate",
                on_click=ReplyState.regenerate(m["id"]),
                disabled=ChatState.streaming,
            ),
        ),
        spacing="1",
        align="center",
        opacity="0.8",
    )


def edit_box() -> rx.Component:
    return rx.vstack(
        rx.text_area(
            value=ChatState.draft,
            on_change=ChatState.set_draft,
            aria_label="Edit message",
            width="100%",
            rows="4",
        ),
        rx.hstack(
            rx.button(
                "Cancel", variant="soft", color_scheme="gray", size="1", on_click=ChatState.cancel_edit
            ),
            rx.button("Save and submit", size="1", on_click=ReplyState.save_edit),
            justify="end",
            width="100%",
        ),
        width="100%",
    )


def message_view(m: rx.Var) -> rx.Component:
    is_user = m["role"] == "user"
    return rx.box(
        rx.cond(
            is_user & (ChatState.editing_id == m["id"]),
            edit_box(),
            rx.vstack(
                rx.box(
                    rx.cond(is_user, rx.text(m["text"], white_space="pre-wrap"), markdown(m["text"].to(str))),
                    padding=rx.cond(is_user, "10px 14px", "0"),
                    border_radius="12px",
                    background=rx.cond(is_user, rx.color("accent", 3), "transparent"),
                    max_width="100%",
                ),
                rx.cond(
                    m["status"] == "unfinished",
                    rx.badge("Unfinished", color_scheme="amber", variant="soft"),
                ),
                rx.cond(
                    m["status"] == "error",
                    rx.callout(m["error"], icon="triangle_alert", color_scheme="red", size="1", role="alert"),
                ),
                message_actions(m),
                align=rx.cond(is_user, "end", "start"),
                spacing="1",
                width="100%",
            ),
        ),
        id="msg-" + m["id"].to(str),
        data_role=m["role"],
        data_focus=rx.cond(m["id"] == ChatState.focus_message, "yes", ""),
        class_name="solo-message",
        width="100%",
    )


def composer() -> rx.Component:
    return rx.form(
        rx.hstack(
            rx.text_area(
                name="message",
                id="message-input",
                placeholder="Message",
                aria_label="Message",
                rows="2",
                width="100%",
                auto_height=True,
                enter_key_submit=True,
                disabled=ChatState.no_models != "",
            ),
            rx.cond(
                ChatState.streaming,
                rx.button(
                    rx.icon("square", size=14),
                    "Stop",
                    type="button",
                    color_scheme="red",
                    on_click=ReplyState.stop,
                ),
                rx.button(
                    rx.icon("arrow_up", size=14), "Send", type="submit", disabled=ChatState.no_models != ""
                ),
            ),
            align="end",
            width="100%",
        ),
        on_submit=ReplyState.send,
        reset_on_submit=True,
        width="100%",
    )


def header() -> rx.Component:
    return rx.hstack(
        rx.cond(
            ChatState.model_options.length() > 0,  # type: ignore[attr-defined]
            rx.select.root(
                rx.select.trigger(aria_label="Model", placeholder="Choose a model"),
                rx.select.content(
                    rx.foreach(ChatState.model_options, lambda o: rx.select.item(o["label"], value=o["key"]))
                ),
                value=ChatState.model_key,
                on_change=ChatState.choose_model,
                size="2",
            ),
        ),
        rx.text(ChatState.title, weight="medium", class_name="solo-ellipsis", flex="1"),
        rx.cond(
            ChatState.conversation_id != "",
            rx.menu.root(
                rx.menu.trigger(rx.button(rx.icon("download", size=14), "Export", variant="soft", size="1")),
                rx.menu.content(
                    *export_menu_items(),
                ),
            ),
        ),
        width="100%",
        align="center",
        spacing="3",
        padding="8px 0",
    )


def conversation() -> rx.Component:
    return rx.vstack(
        header(),
        rx.cond(
            ChatState.no_models != "",
            rx.callout(ChatState.no_models, icon="info", color_scheme="amber", width="100%"),
        ),
        rx.box(
            rx.vstack(
                rx.cond(
                    (ChatState.messages.length() == 0) & ~ChatState.streaming,  # type: ignore[attr-defined]
                    rx.center(rx.heading("How can I help?", size="6", color_scheme="gray"), padding="15vh 0"),
                ),
                rx.foreach(ChatState.messages, message_view),
                rx.cond(
                    ChatState.streaming,
                    rx.box(
                        rx.cond(StreamState.text == "", rx.spinner(size="2"), markdown(StreamState.text)),
                        id="streaming-reply",
                        aria_live="polite",
                        width="100%",
                    ),
                ),
                rx.cond(
                    ChatState.error != "",
                    rx.callout(
                        rx.hstack(
                            rx.text(ChatState.error),
                            rx.cond(
                                ChatState.retry_parent != "",
                                rx.button("Retry", size="1", on_click=ReplyState.retry),
                            ),
                            align="center",
                            justify="between",
                            width="100%",
                        ),
                        icon="triangle_alert",
                        color_scheme="red",
                        role="alert",
                        width="100%",
                    ),
                ),
                spacing="5",
                width="100%",
                padding_bottom="16px",
            ),
            flex="1",
            overflow_y="auto",
            width="100%",
            id="messages",
        ),
        composer(),
        width="100%",
        max_width="820px",
        margin_x="auto",
        height="calc(100vh - 58px - var(--solo-banner-h, 0px))",
        padding=["8px 12px", "8px 24px"],
        spacing="2",
    )


def chat_page() -> rx.Component:
    return signed_in(
        top_bar(drawer=sidebar_content()),
        dialogs(),
        rx.hstack(sidebar(), conversation(), spacing="0", width="100%", align="stretch"),
    )


def register(app: rx.App) -> None:
    on_load = [SessionState.load_private, ChatState.load]
    app.add_page(chat_page, route="/", title="Chat", on_load=on_load)
    app.add_page(chat_page, route="/c/[cid]", title="Chat", on_load=on_load)
