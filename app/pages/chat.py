"""/ (a new chat) and /c/[cid] (a conversation)."""

from __future__ import annotations

import reflex as rx

from components.agent_card import avatar_image
from components.attachments import attach_controls, knowledge_picker, message_files, pending_chips, sources
from components.chat_io import export_menu_items
from components.markdown import safe_markdown
from components.memory_use import used_memories
from components.shell import signed_in, top_bar
from components.sidebar import dialogs, sidebar, sidebar_content
from components.tool_card import tool_cards
from services.config import get_settings
from state.attachments import AttachState
from state.chat import ChatState, StreamState
from state.chat_stream import ReplyState
from state.session import SessionState


def markdown(text: rx.Var) -> rx.Component:
    return safe_markdown(text)


def action_button(icon: str, label: str, **props: object) -> rx.Component:
    """A message action: 32 px, named and titled by its visible purpose."""
    return rx.icon_button(
        rx.icon(icon, size=16), size="2", variant="ghost", color_scheme="gray", aria_label=label, title=label,
        class_name="solo-action", **props,
    )  # fmt: skip


def version_nav(
    index: rx.Var, count: rx.Var, prev_id: rx.Var, next_id: rx.Var, *, live: bool = False
) -> rx.Component:
    return rx.hstack(
        action_button(
            "chevron_left", "Previous version", disabled=live | (prev_id == ""),
            on_click=ChatState.show_sibling(prev_id),
        ),
        rx.text(index.to(str) + "/" + count.to(str), size="1", class_name="solo-branch"),
        action_button(
            "chevron_right", "Next version", disabled=live | (next_id == ""),
            on_click=ChatState.show_sibling(next_id),
        ),
        spacing="0",
        align="center",
    )  # fmt: skip


def branch_nav(m: rx.Var) -> rx.Component:
    return rx.cond(
        m["count"].to(int) > 1, version_nav(m["index"], m["count"], m["prev_id"], m["next_id"], live=False)
    )


def message_actions(m: rx.Var) -> rx.Component:
    return rx.hstack(
        branch_nav(m),
        action_button(
            "copy", "Copy", on_click=rx.set_clipboard(m["text"].to(str)), custom_attrs={"data-copy": "1"}
        ),
        rx.cond(
            m["role"] == "user",
            action_button(
                "pencil", "Edit", on_click=ChatState.start_edit(m["id"]), disabled=ChatState.streaming
            ),
            rx.cond(
                ~m["id"].to(str).startswith("unsaved-"),
                action_button(
                    "refresh_cw",
                    "Regenerate",
                    on_click=ReplyState.regenerate(m["id"]),
                    disabled=ChatState.streaming,
                ),
            ),
        ),
        spacing="0",
        align="center",
        class_name="solo-actions",
    )


def edit_box() -> rx.Component:
    return rx.vstack(
        rx.text_area(
            value=ChatState.draft,
            on_change=ChatState.set_draft,
            aria_label="Edit message",
            id="edit-message",
            width="100%",
            rows="4",
            auto_focus=True,
        ),
        rx.hstack(
            rx.text("Esc to cancel", size="1", color_scheme="gray"),
            rx.spacer(),
            rx.button(
                "Cancel", variant="soft", color_scheme="gray", size="2", on_click=ChatState.cancel_edit,
                id="edit-cancel",
            ),
            rx.button("Save and submit", size="2", on_click=ReplyState.save_edit),
            align="center",
            width="100%",
        ),
        width="100%",
        class_name="solo-edit",
    )  # fmt: skip


def failure(m: rx.Var) -> rx.Component:
    """One message per failed reply: what happened in plain words, Retry, the provider's text behind Details."""
    return rx.callout.root(
        rx.callout.icon(rx.icon("triangle_alert", size=16)),
        rx.vstack(
            rx.hstack(
                rx.callout.text(m["error"], weight="medium"),
                rx.cond(
                    ChatState.retry_id == m["id"],
                    rx.button(
                        rx.icon("rotate_ccw", size=14), "Retry", size="1", on_click=ReplyState.retry,
                        disabled=ChatState.streaming,
                    ),
                ),
                align="center",
                spacing="3",
                wrap="wrap",
            ),
            rx.cond(
                m["detail"] != "",
                rx.el.details(
                    rx.el.summary("Details"),
                    rx.text(m["detail"], size="1", class_name="solo-detail"),
                    class_name="solo-details",
                ),
            ),
            spacing="1",
            width="100%",
        ),
        color_scheme="red",
        size="1",
        role="alert",
        width="100%",
    )  # fmt: skip


def message_view(m: rx.Var) -> rx.Component:
    is_user = m["role"] == "user"
    return rx.box(
        rx.cond(
            is_user & (ChatState.editing_id == m["id"]),
            edit_box(),
            rx.vstack(
                rx.cond(
                    ~is_user & (m["tools"].to(list[dict[str, str]]).length() > 0),  # type: ignore[attr-defined]
                    rx.vstack(  # an agent's reply: its first words, the tool calls, then the rest
                        rx.cond(
                            m["lead"] != "", rx.box(markdown(m["lead"].to(str)), class_name="solo-bubble")
                        ),
                        tool_cards(m["tools"].to(list[dict[str, str]])),
                        rx.cond(
                            m["after"] != "", rx.box(markdown(m["after"].to(str)), class_name="solo-bubble")
                        ),
                        spacing="2",
                        width="100%",
                    ),
                    rx.cond(
                        m["text"] != "",
                        rx.box(
                            rx.cond(
                                is_user,
                                rx.text(m["text"], white_space="pre-wrap"),
                                markdown(m["text"].to(str)),
                            ),
                            class_name=rx.cond(is_user, "solo-bubble solo-bubble-user", "solo-bubble"),
                        ),
                    ),
                ),
                message_files(m),
                rx.cond(~is_user, sources(m)),
                rx.cond(~is_user, used_memories(m)),
                rx.cond(
                    m["status"] == "unfinished",
                    rx.badge("Unfinished", color_scheme="amber", variant="soft"),
                ),
                rx.cond(m["status"] == "error", failure(m)),
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


def streaming_reply() -> rx.Component:
    return rx.cond(
        ChatState.streaming,
        rx.vstack(
            rx.cond(
                StreamState.tools.length() > 0,  # type: ignore[attr-defined]
                rx.vstack(
                    rx.cond(StreamState.lead != "", markdown(StreamState.lead)),
                    tool_cards(StreamState.tools),
                    spacing="2",
                    width="100%",
                ),
            ),
            rx.box(
                rx.cond(
                    StreamState.tools.length() > 0,  # type: ignore[attr-defined]
                    rx.cond(StreamState.after != "", markdown(StreamState.after)),
                    rx.cond(StreamState.text == "", rx.spinner(size="2"), markdown(StreamState.text)),
                ),
                aria_live="polite",
                aria_busy="true",
                width="100%",
            ),
            rx.cond(
                ChatState.stream_count > 1,
                version_nav(ChatState.stream_count, ChatState.stream_count, "", "", live=True),
            ),
            id="streaming-reply",
            class_name="solo-message",
            data_role="streaming",
            align="start",
            spacing="1",
            width="100%",
        ),
    )


def composer() -> rx.Component:
    return rx.form(
        rx.vstack(
            pending_chips(),
            rx.hstack(
                attach_controls(get_settings().upload_max_mb * 1024 * 1024),
                knowledge_picker(),
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
                    aria_describedby="composer-hint",
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
                        rx.icon("arrow_up", size=14),
                        "Send",
                        type="submit",
                        disabled=(ChatState.no_models != "") | AttachState.uploading,
                        title=rx.cond(AttachState.uploading, "Wait until the files are uploaded", "Send"),
                    ),
                ),
                align="end",
                width="100%",
            ),
            rx.text(
                rx.cond(
                    ChatState.notice != "",
                    ChatState.notice,
                    rx.cond(ChatState.streaming, "Replying… What you type stays here until you send it.", ""),
                ),
                id="composer-hint",
                size="1",
                color_scheme=rx.cond(ChatState.notice != "", "amber", "gray"),
                aria_live="polite",
                class_name="solo-hint",
            ),
            spacing="1",
            width="100%",
        ),
        on_submit=ReplyState.send,
        reset_on_submit=False,
        width="100%",
        id="composer",
    )


def agent_badge() -> rx.Component:
    """The agent the chat is with, in the header (its name links to the agent)."""
    return rx.cond(
        ChatState.agent_id != "",
        rx.link(
            rx.hstack(
                rx.el.span(
                    avatar_image(ChatState.agent_avatar, ChatState.agent_avatar_url, icon_size=16),
                    class_name="solo-chat-agent-avatar",
                    aria_hidden="true",
                ),
                rx.text(ChatState.agent_name, size="2", weight="medium", class_name="solo-ellipsis"),
                spacing="1",
                align="center",
            ),
            href="/agents/" + ChatState.agent_id,
            class_name="solo-chat-agent",
            aria_label="Agent: " + ChatState.agent_name,
            id="chat-agent",
            underline="none",
        ),
    )


def empty_chat() -> rx.Component:
    """A new chat: "How can I help?", or the agent's greeting and its conversation starters."""
    return rx.cond(
        ChatState.agent_id != "",
        rx.vstack(
            rx.el.span(
                avatar_image(ChatState.agent_avatar, ChatState.agent_avatar_url, icon_size=40),
                class_name="solo-agent-intro-avatar",
                aria_hidden="true",
            ),
            rx.heading(ChatState.agent_name, size="6"),
            rx.text(ChatState.agent_description, color_scheme="gray", size="2", text_align="center"),
            rx.flex(
                rx.foreach(
                    ChatState.agent_starters,
                    lambda s: rx.button(
                        s,
                        variant="surface",
                        size="2",
                        on_click=ReplyState.send({"message": s}),
                        class_name="solo-starter",
                    ),
                ),
                wrap="wrap",
                spacing="2",
                justify="center",
                max_width="640px",
            ),
            align="center",
            spacing="3",
            padding="10vh 0",
            width="100%",
            id="agent-intro",
        ),
        rx.center(rx.heading("How can I help?", size="6", color_scheme="gray"), padding="15vh 0"),
    )


def header() -> rx.Component:
    return rx.hstack(
        rx.hstack(
            agent_badge(),
            rx.text(ChatState.title, weight="medium", class_name="solo-ellipsis solo-chat-title"),
            spacing="3",
            align="center",
            min_width="0",
        ),
        rx.hstack(
            rx.cond(
                ChatState.model_options.length() > 0,  # type: ignore[attr-defined]
                rx.select.root(
                    rx.select.trigger(
                        aria_label="Model", placeholder="Choose a model", class_name="solo-model"
                    ),
                    rx.select.content(
                        rx.foreach(
                            ChatState.model_options, lambda o: rx.select.item(o["label"], value=o["key"])
                        )
                    ),
                    value=ChatState.model_key,
                    on_change=ChatState.choose_model,
                    size="2",
                ),
            ),
            rx.cond(
                ChatState.conversation_id != "",
                rx.menu.root(
                    rx.menu.trigger(
                        rx.button(
                            rx.icon("download", size=14),
                            rx.el.span("Export", class_name="solo-export-label"),
                            variant="soft",
                            size="2",
                            aria_label="Export",
                        )
                    ),
                    rx.menu.content(*export_menu_items()),
                ),
            ),
            spacing="2",
            align="center",
            min_width="0",
            class_name="solo-chat-tools",
        ),
        width="100%",
        align="center",
        justify="between",
        spacing="3",
        padding="8px 0",
        class_name="solo-chat-header",
    )


def error_banner() -> rx.Component:
    return rx.cond(
        ChatState.error != "",
        rx.callout(
            rx.hstack(
                rx.text(ChatState.error),
                rx.cond(
                    ChatState.retry_banner,
                    rx.button("Retry", size="1", on_click=ReplyState.retry, disabled=ChatState.streaming),
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
    )


def conversation() -> rx.Component:
    return rx.vstack(
        header(),
        rx.cond(
            ChatState.no_models != "",
            rx.callout(ChatState.no_models, icon="info", color_scheme="amber", width="100%"),
        ),
        rx.box(
            rx.box(
                rx.vstack(
                    rx.cond(
                        ChatState.has_older,
                        rx.button(
                            "Load earlier messages", variant="ghost", size="1", on_click=ChatState.load_older,
                            id="load-older", align_self="center",
                        ),
                    ),
                    rx.cond(
                        (ChatState.messages.length() == 0)  # type: ignore[attr-defined]
                        & (ChatState.tail.length() == 0)  # type: ignore[attr-defined]
                        & ~ChatState.streaming,
                        empty_chat(),
                    ),
                    rx.foreach(ChatState.older, message_view),
                    rx.foreach(ChatState.messages, message_view),
                    rx.foreach(ChatState.tail, message_view),
                    streaming_reply(),
                    spacing="5",
                    width="100%",
                    padding_bottom="16px",
                ),
                class_name="solo-scroll",
                id="messages",
            ),
            rx.button(
                rx.icon("arrow_down", size=14), "Jump to latest", size="1", variant="solid", radius="full",
                id="jump-latest", type="button", class_name="solo-jump",
            ),
            class_name="solo-scroll-frame",
        ),
        rx.cond(
            ChatState.agent_note != "",
            rx.callout(ChatState.agent_note, icon="info", color_scheme="amber", size="1", width="100%"),
        ),
        error_banner(),
        composer(),
        rx.el.span(
            id="doc-title",
            hidden=True,
            custom_attrs={
                "data-title": rx.cond(ChatState.title != "", ChatState.title, "New chat")
                + " · "
                + SessionState.tenant_name.to(str),
                "data-user": SessionState.user_email,
            },
        ),
        class_name="solo-chat",
        spacing="2",
    )  # fmt: skip


def chat_page() -> rx.Component:
    return signed_in(
        top_bar(drawer=sidebar_content()),
        dialogs(),
        rx.hstack(
            sidebar(), conversation(), spacing="0", width="100%", align="stretch", class_name="solo-chat-row"
        ),
    )


def register(app: rx.App) -> None:
    on_load = [SessionState.load_private, ChatState.load]
    app.add_page(chat_page, route="/", title="Chat", on_load=on_load)
    app.add_page(chat_page, route="/c/[cid]", title="Chat", on_load=on_load)
