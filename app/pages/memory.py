"""/memory: what the assistant remembers about the member: list, search, filter by category, add, edit, pin,
forget one or all, export as JSON. The state is MemoryState (state/memory.py)."""

from __future__ import annotations

import reflex as rx

from components.forms import confirm_dialog, error_callout, notice_callout
from components.shell import app_shell
from services.memory.store import MAX_CHARS
from state.memory import NEW_CATEGORY_ID, NEW_INPUT_ID, MemoryState, category_options
from state.session import SessionState

INTRO = (
    "The assistant uses these in its replies to you. Only you see them: nobody else in the workspace does, "
    "admins included."
)


def _category_select(label: str, **props: object) -> rx.Component:
    return rx.el.select(
        *[rx.el.option(o["label"], value=o["value"]) for o in category_options()],
        class_name="solo-native-select memory-select",
        aria_label=label,
        **props,
    )


def _action(icon: str, text: str, label: rx.Var, on_click: object, **props: object) -> rx.Component:
    props = {"variant": "ghost", "size": "1", "color_scheme": "gray"} | props
    return rx.button(
        rx.icon(icon, size=14),
        rx.el.span(text, class_name="memory-act-text"),
        aria_label=label,
        title=label,
        on_click=on_click,
        **props,
    )


def _add_form() -> rx.Component:
    return rx.form(
        rx.vstack(
            rx.heading("Add memory", size="3", id="memory-add-title"),
            rx.el.label("Memory", html_for=NEW_INPUT_ID, class_name="solo-label"),
            rx.text_area(
                id=NEW_INPUT_ID,
                name="text",
                placeholder="For example: I coach first-time founders in Lisbon.",
                max_length=MAX_CHARS,
                rows="2",
                width="100%",
                resize="vertical",
            ),
            rx.el.div(
                rx.el.div(
                    rx.el.label("Category", html_for=NEW_CATEGORY_ID, class_name="solo-label"),
                    _category_select("Category", id=NEW_CATEGORY_ID, name="category", default_value="other"),
                    class_name="memory-add-category",
                ),
                rx.button(rx.icon("plus", size=15), "Save", type="submit"),
                class_name="memory-add-row",
            ),
            error_callout(MemoryState.form_error),
            spacing="2",
            width="100%",
        ),
        on_submit=MemoryState.add,
        reset_on_submit=False,
        aria_labelledby="memory-add-title",
        class_name="memory-add",
        width="100%",
    )


def _toolbar() -> rx.Component:
    return rx.flex(
        rx.input(
            value=MemoryState.query,
            on_change=MemoryState.search,  # controlled with on_change: debounced (300 ms)
            placeholder="Search memories",
            aria_label="Search memories",
            type="search",
            size="2",
            class_name="memory-search",
        ),
        rx.el.select(
            rx.el.option("All categories", value="all"),
            *[rx.el.option(o["label"], value=o["value"]) for o in category_options()],
            value=MemoryState.category,
            on_change=MemoryState.set_category,
            aria_label="Category",
            class_name="solo-native-select memory-select",
        ),
        rx.hstack(
            rx.button(
                rx.icon("download", size=15),
                "Export",
                variant="soft",
                color_scheme="gray",
                on_click=MemoryState.export,
                disabled=MemoryState.total == 0,
            ),
            rx.button(
                rx.icon("trash_2", size=15),
                "Forget everything",
                variant="soft",
                color_scheme="red",
                on_click=MemoryState.ask_forget_all,
                disabled=MemoryState.total == 0,
            ),
            spacing="2",
            class_name="memory-bulk",
        ),
        gap="2",
        wrap="wrap",
        align="center",
        width="100%",
        role="search",
        class_name="memory-toolbar",
    )


def _edit_form(m: rx.Var) -> rx.Component:
    return rx.form(
        rx.vstack(
            rx.text_area(
                name="text",
                default_value=m["text"],
                aria_label="Memory text",
                auto_focus=True,
                max_length=MAX_CHARS,
                rows="3",
                width="100%",
                resize="vertical",
            ),
            error_callout(MemoryState.edit_error),
            rx.hstack(
                rx.button("Save", type="submit", size="1"),
                rx.button(
                    "Cancel",
                    type="button",
                    size="1",
                    variant="soft",
                    color_scheme="gray",
                    on_click=MemoryState.cancel_edit,
                ),
                spacing="2",
            ),
            spacing="2",
            width="100%",
        ),
        on_submit=MemoryState.save_edit,
        width="100%",
    )


def _meta(m: rx.Var) -> rx.Component:
    return rx.el.div(
        rx.el.span(
            rx.badge(m["category_label"], color_scheme=m["color"].to(str), variant="soft", size="1"),  # type: ignore[arg-type]
            rx.cond(
                m["pinned"] != "",
                rx.badge(
                    rx.icon("pin", size=11), "Pinned", color_scheme="orange", variant="surface", size="1"
                ),
            ),
            class_name="memory-badges",
        ),
        rx.el.span(m["source"]),
        rx.el.span("Added ", m["created"]),
        rx.el.span(m["used"]),
        rx.cond(
            m["conversation"] != "",
            rx.link(
                rx.icon("message_square", size=12),
                "From this conversation",
                href=m["conversation"],
                size="1",
                class_name="memory-from",
            ),
        ),
        class_name="memory-meta",
    )


def _row(m: rx.Var) -> rx.Component:
    short = m["short"].to(str)
    editing = MemoryState.editing == m["id"]
    return rx.el.li(
        rx.box(
            rx.cond(editing, _edit_form(m), rx.text(m["text"], size="2", class_name="memory-text")),
            _meta(m),
            class_name="memory-main",
        ),
        rx.cond(
            editing,
            rx.fragment(),
            rx.hstack(
                _action("pencil", "Edit", "Edit " + short, MemoryState.start_edit(m["id"])),
                rx.cond(
                    m["pinned"] != "",
                    _action("pin_off", "Unpin", "Unpin " + short, MemoryState.toggle_pin(m["id"])),
                    _action("pin", "Pin", "Pin " + short, MemoryState.toggle_pin(m["id"])),
                ),
                _action(
                    "trash_2", "Forget", "Forget " + short, MemoryState.forget(m["id"]), color_scheme="red"
                ),
                spacing="3",
                class_name="memory-actions",
            ),
        ),
        class_name=rx.cond(m["pinned"] != "", "memory-row memory-pinned", "memory-row"),
    )


def _list() -> rx.Component:
    return rx.cond(
        MemoryState.memories.length() > 0,
        rx.el.ul(rx.foreach(MemoryState.memories, _row), class_name="memory-list", aria_label="Memories"),
    )


def _empty() -> rx.Component:
    filtered = (MemoryState.query != "") | (MemoryState.category != "all")
    return rx.cond(
        MemoryState.loaded & (MemoryState.memories.length() == 0),
        rx.box(
            rx.cond(
                filtered & (MemoryState.total > 0),
                rx.text("No memories match this search.", size="2", color_scheme="gray"),
                rx.vstack(
                    rx.icon("brain", size=28, color=rx.color("gray", 9)),
                    rx.text("No memories yet.", weight="medium"),
                    rx.text(
                        "Add one above, or tell the assistant in a chat: “Remember that I prefer short answers.”",
                        size="2",
                        color_scheme="gray",
                    ),
                    align="center",
                    spacing="2",
                ),
            ),
            class_name="memory-empty",
        ),
    )


def _count() -> rx.Component:
    return rx.cond(
        MemoryState.total > 0,
        rx.text(
            MemoryState.memories.length().to(str),
            " of ",
            MemoryState.total.to(str),
            rx.cond(MemoryState.total == 1, " memory", " memories"),
            size="1",
            color_scheme="gray",
            id="memory-count",
        ),
    )


def _forget_all_dialog() -> rx.Component:
    return confirm_dialog(
        "Forget everything?",
        (
            "All ",
            MemoryState.total.to(str),
            " of your memories are deleted for good. The assistant no longer uses them; your chats stay.",
        ),
        "Forget everything",
        on_confirm=MemoryState.forget_all,
        open=MemoryState.confirm_forget_all,
        on_open_change=MemoryState.close_forget_all,
    )


def _body() -> rx.Component:
    return rx.vstack(
        rx.text(INTRO, size="2", color_scheme="gray", class_name="memory-intro"),
        rx.el.label(
            rx.switch(
                checked=MemoryState.enabled,
                on_change=MemoryState.set_enabled,
                aria_label="Use memory",
            ),
            rx.text("Use memory", size="2", weight="medium"),
            rx.cond(
                ~MemoryState.enabled,
                rx.text(
                    "Off: replies use none of these, and nothing new is saved.", size="1", color_scheme="gray"
                ),
            ),
            class_name="memory-switch",
        ),
        rx.cond(
            ~MemoryState.workspace_on,
            rx.callout(
                "Memory is turned off in this workspace by its admins: replies use none of these and nothing "
                "new is saved. What is kept here stays yours to see, edit, export or forget.",
                icon="info",
                color_scheme="amber",
                size="1",
                id="memory-workspace-off",
            ),
        ),
        error_callout(MemoryState.error),
        notice_callout(MemoryState.notice),
        _add_form(),
        _toolbar(),
        _count(),
        _list(),
        _empty(),
        _forget_all_dialog(),
        spacing="3",
        width="100%",
    )


def memory() -> rx.Component:
    return app_shell("Memory", _body)


def register(app: rx.App) -> None:
    app.add_page(
        memory, route="/memory", title="Memory", on_load=[SessionState.load_private, MemoryState.load]
    )
