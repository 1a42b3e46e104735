"""The chat sidebar: New chat, search, views, the conversations by day (with their actions) and the
dialogs those actions open, plus the import/export controls and navigation at its foot."""

from __future__ import annotations

import reflex as rx

from components.chat_io import import_export_controls
from components.shell import nav_items
from state.chat import ChatState
from state.chat_sidebar import SidebarState


def conversation_item(c: rx.Var) -> rx.Component:
    return rx.hstack(
        rx.link(
            rx.text(c["title"], size="2", trim="both", class_name="solo-ellipsis"),
            href="/c/" + c["id"].to(str),
            underline="none",
            color="inherit",
            flex="1",
            min_width="0",
            padding="6px 8px",
        ),
        rx.menu.root(
            rx.menu.trigger(
                rx.icon_button(
                    rx.icon("ellipsis", size=14),
                    variant="ghost",
                    size="1",
                    aria_label="Actions for " + c["title"].to(str),
                )
            ),
            rx.menu.content(
                rx.menu.item(
                    rx.cond(c["pinned"], "Unpin", "Pin"),
                    on_select=SidebarState.toggle_pin(c["id"], c["pinned"]),
                ),
                rx.menu.item("Rename…", on_select=SidebarState.open_dialog("rename", c["id"], c["title"])),
                rx.menu.sub(
                    rx.menu.sub_trigger("Move to folder"),
                    rx.menu.sub_content(
                        rx.menu.item("No folder", on_select=SidebarState.move_to_folder(c["id"], "")),
                        rx.foreach(
                            SidebarState.folders,
                            lambda f: rx.menu.item(
                                rx.cond(c["folder_id"] == f["id"], "✓ ", ""),
                                f["name"],
                                on_select=SidebarState.move_to_folder(c["id"], f["id"]),
                            ),
                        ),
                        rx.menu.separator(),
                        rx.menu.item(
                            "New folder…", on_select=SidebarState.open_dialog("new_folder", c["id"], "")
                        ),
                    ),
                ),
                rx.menu.sub(
                    rx.menu.sub_trigger("Tags"),
                    rx.menu.sub_content(
                        rx.foreach(
                            SidebarState.tags,
                            lambda t: rx.menu.item(
                                rx.cond(c["tag_ids"].to(list[str]).contains(t["id"]), "✓ ", ""),
                                t["name"],
                                on_select=SidebarState.toggle_tag(
                                    c["id"], t["id"], c["tag_ids"].to(list[str]).contains(t["id"])
                                ),
                            ),
                        ),
                        rx.menu.separator(),
                        rx.menu.item("New tag…", on_select=SidebarState.open_dialog("new_tag", c["id"], "")),
                    ),
                ),
                rx.menu.item(
                    rx.cond(c["archived"], "Unarchive", "Archive"),
                    on_select=SidebarState.archive(c["id"], c["archived"]),
                ),
                rx.menu.separator(),
                rx.menu.item(
                    "Delete…", color="red", on_select=SidebarState.open_dialog("delete", c["id"], c["title"])
                ),
            ),
        ),
        align="center",
        spacing="1",
        width="100%",
        border_radius="6px",
        background=rx.cond(c["id"] == ChatState.conversation_id, rx.color("accent", 4), "transparent"),
        _hover={"background": rx.color("accent", 3)},
    )


def view_picker() -> rx.Component:
    """Which conversations the sidebar (and search) covers: all, pinned, archived, a folder or a tag."""
    return rx.el.select(
        rx.el.option("All chats", value="all"),
        rx.el.option("Pinned", value="pinned"),
        rx.el.option("Archived", value="archived"),
        rx.foreach(
            SidebarState.folders, lambda f: rx.el.option("Folder: ", f["name"], value="folder:" + f["id"])
        ),
        rx.foreach(SidebarState.tags, lambda t: rx.el.option("Tag: ", t["name"], value="tag:" + t["id"])),
        value=SidebarState.view,
        on_change=SidebarState.set_view,
        aria_label="Show",
        class_name="solo-native-select",
    )


def dialogs() -> rx.Component:
    names = {"rename": "Rename conversation", "new_folder": "New folder", "new_tag": "New tag"}
    return rx.fragment(
        rx.dialog.root(
            rx.dialog.content(
                rx.dialog.title(
                    rx.match(SidebarState.dialog, *[(k, v) for k, v in names.items()], ""),
                ),
                rx.form(
                    rx.vstack(
                        rx.input(
                            name="name",
                            default_value=SidebarState.dialog_value,
                            aria_label="Name",
                            auto_focus=True,
                            width="100%",
                            max_length=300,
                        ),
                        rx.hstack(
                            rx.dialog.close(
                                rx.button("Cancel", variant="soft", color_scheme="gray", type="button")
                            ),
                            rx.button("Save", type="submit"),
                            justify="end",
                            width="100%",
                        ),
                        spacing="3",
                    ),
                    on_submit=SidebarState.submit_dialog,
                    reset_on_submit=True,
                ),
                max_width="420px",
            ),
            open=(SidebarState.dialog != "") & (SidebarState.dialog != "delete"),
            on_open_change=SidebarState.close_dialog,
        ),
        rx.alert_dialog.root(
            rx.alert_dialog.content(
                rx.alert_dialog.title("Delete this conversation?"),
                rx.alert_dialog.description(
                    "“",
                    SidebarState.dialog_value,
                    "” and all its messages will be deleted. This cannot be undone.",
                ),
                rx.hstack(
                    rx.alert_dialog.cancel(rx.button("Cancel", variant="soft", color_scheme="gray")),
                    rx.alert_dialog.action(
                        rx.button("Delete", color_scheme="red", on_click=SidebarState.confirm_delete)
                    ),
                    justify="end",
                    spacing="3",
                    margin_top="16px",
                ),
                max_width="420px",
            ),
            open=SidebarState.dialog == "delete",
            on_open_change=SidebarState.close_dialog,
        ),
    )


def sidebar_content() -> rx.Component:
    return rx.vstack(
        rx.link(
            rx.button(rx.icon("square_pen", size=16), "New chat", width="100%", variant="soft"),
            href="/",
            width="100%",
        ),
        rx.form(
            rx.input(
                name="q",
                placeholder="Search conversations",
                aria_label="Search conversations",
                default_value=SidebarState.search_query,
                width="100%",
                type="search",
            ),
            on_submit=SidebarState.search,
            width="100%",
        ),
        rx.hstack(
            view_picker(),
            rx.icon_button(
                rx.icon("folder_plus", size=14),
                variant="ghost",
                size="1",
                aria_label="New folder",
                on_click=SidebarState.open_dialog("new_folder", "", ""),
            ),
            rx.icon_button(
                rx.icon("tag", size=14),
                variant="ghost",
                size="1",
                aria_label="New tag",
                on_click=SidebarState.open_dialog("new_tag", "", ""),
            ),
            width="100%",
            align="center",
        ),
        rx.cond(
            SidebarState.search_query != "",
            rx.vstack(
                rx.hstack(
                    rx.text("Results", size="1", weight="bold", color_scheme="gray"),
                    rx.button("Clear", size="1", variant="ghost", on_click=SidebarState.clear_search),
                    justify="between",
                    width="100%",
                ),
                rx.cond(
                    SidebarState.results.length() == 0,  # type: ignore[attr-defined]
                    rx.text("Nothing found.", size="2", color_scheme="gray"),
                ),
                rx.cond(
                    SidebarState.results_cut,
                    rx.text(
                        "Many chats match: showing the best of the most recent ones. Add a word to narrow it.",
                        size="1",
                        color_scheme="gray",
                        id="search-cut",
                    ),
                ),
                rx.foreach(
                    SidebarState.results,
                    lambda r: rx.link(
                        rx.vstack(
                            rx.text(r["title"], size="2", weight="medium"),
                            rx.el.div(
                                rx.foreach(
                                    r["parts"].to(list[dict]),  # type: ignore[arg-type]
                                    lambda part: rx.cond(
                                        part["hit"], rx.el.mark(part["text"]), rx.el.span(part["text"])
                                    ),
                                ),
                                class_name="solo-snippet",
                            ),
                            spacing="1",
                        ),
                        href=r["href"],
                        underline="none",
                        color="inherit",
                        padding="6px 8px",
                        border_radius="6px",
                        width="100%",
                        _hover={"background": rx.color("accent", 3)},
                    ),
                ),
                width="100%",
                spacing="1",
            ),
            rx.vstack(
                rx.foreach(
                    SidebarState.groups,
                    lambda g: rx.vstack(
                        rx.text(g["label"], size="1", weight="bold", color_scheme="gray", padding_left="8px"),
                        rx.foreach(g["items"].to(list[dict]), conversation_item),  # type: ignore[arg-type]
                        spacing="0",
                        width="100%",
                    ),
                ),
                rx.cond(
                    SidebarState.has_more,
                    rx.button(
                        "Load more",
                        variant="ghost",
                        size="1",
                        on_click=SidebarState.load_more,
                        custom_attrs={"data-autoload": "1"},
                    ),
                ),
                spacing="3",
                width="100%",
            ),
        ),
        rx.spacer(),
        rx.vstack(
            import_export_controls(),
            nav_items(chat=False),
            spacing="2",
            width="100%",
            padding_top="8px",
            border_top=f"1px solid {rx.color('gray', 5)}",
        ),
        width="100%",
        min_height="100%",
        class_name="solo-sidebar",
    )


def sidebar() -> rx.Component:
    return rx.box(
        sidebar_content(),
        width="280px",
        min_width="280px",
        padding="12px",
        border_right=f"1px solid {rx.color('gray', 5)}",
        height="calc(100vh - 58px - var(--solo-banner-h, 0px))",
        overflow_y="auto",
        display=["none", "none", "block"],
    )
