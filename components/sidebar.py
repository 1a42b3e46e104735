"""The chat sidebar: a fixed head (New chat, search, the view picker and "Folders and tags"), the list that
scrolls (conversations by day, or search results) and a fixed foot (import/export, navigation), plus the
dialogs its actions open. Styles: assets/sidebar.css; keyboard and search-as-you-type: assets/sidebar.js."""

from __future__ import annotations

import reflex as rx

from components.chat_io import import_export_controls
from components.forms import confirm_dialog
from components.shell import nav_items
from state.chat import ChatState
from state.chat_sidebar import SidebarState

MENU_KEYS = "Shift+F10 ContextMenu"


def sr_only(text: str) -> rx.Component:
    """Text for screen readers only (it completes a chip's name: "Folder Work")."""
    return rx.el.span(text, class_name="solo-sr-only")


def chip(kind: str, ident: rx.Var, name: rx.Var) -> rx.Component:
    """A row's folder or tag: small and quiet; a click shows only that folder's or tag's chats. Not a Tab
    stop of its own (a row is one): the view picker offers the same filter to the keyboard."""
    return rx.el.button(
        rx.icon("folder" if kind == "folder" else "tag", size=10, aria_hidden="true"),
        sr_only("Folder " if kind == "folder" else "Tag "),
        rx.el.span(name, class_name="solo-chip-name"),
        type="button",
        tab_index=-1,
        class_name="solo-chip",
        title="Show only the chats " + ("in this folder" if kind == "folder" else "with this tag"),
        on_click=SidebarState.set_view(f"{kind}:" + ident.to(str)),
    )


def row_menu(c: rx.Var) -> rx.Component:
    return rx.menu.root(
        rx.menu.trigger(
            rx.icon_button(
                rx.icon("ellipsis", size=14),
                variant="ghost",
                size="1",
                tab_index=-1,  # the row is the Tab stop; Shift+F10 or the Menu key on it opens this menu
                aria_label="Actions for " + c["title"].to(str),
                aria_keyshortcuts=MENU_KEYS,
                title="Actions (keyboard: Shift+F10 or the Menu key on the chat)",
                class_name="solo-conv-actions",
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
    )


def conversation_item(c: rx.Var) -> rx.Component:
    """One conversation: the whole row opens it (one Tab stop, the link); chips and "…" sit above it."""
    tags = c["tags"].to(list[dict[str, str]])
    has_labels = (c["folder"] != "") | (tags.length() > 0)  # type: ignore[attr-defined]
    return rx.el.div(
        rx.link(
            rx.el.span(c["title"], class_name="solo-conv-title"),
            rx.cond(
                ChatState.answering.contains(c["id"]),
                rx.el.span(class_name="solo-answering", role="img", aria_label="Answering"),
            ),
            href="/c/" + c["id"].to(str),
            underline="none",
            color="inherit",
            class_name="solo-conv-link",
            _hover={"color": "inherit"},  # rx.link turns accent-8 on hover: the row's background says it
            aria_keyshortcuts=MENU_KEYS,
            aria_current=rx.cond(c["id"] == ChatState.conversation_id, "page", None),
        ),
        rx.cond(
            has_labels,
            rx.el.div(
                rx.cond(c["folder"] != "", chip("folder", c["folder_id"], c["folder"])),
                rx.foreach(tags, lambda t: chip("tag", t["id"], t["name"])),
                class_name="solo-conv-chips",
            ),
        ),
        row_menu(c),
        class_name="solo-conv-row",
        data_current=rx.cond(c["id"] == ChatState.conversation_id, "yes", "no"),
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


def name_dialog() -> rx.Component:
    """Rename a conversation, or name a new folder or tag (from a row's menu)."""
    names = {"rename": "Rename conversation", "new_folder": "New folder", "new_tag": "New tag"}
    return rx.dialog.root(
        rx.dialog.content(
            rx.dialog.title(rx.match(SidebarState.dialog, *[(k, v) for k, v in names.items()], "")),
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
                    rx.cond(
                        SidebarState.dialog_error != "",
                        rx.callout(SidebarState.dialog_error, color_scheme="red", size="1", role="alert"),
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
            ),
            max_width="420px",
        ),
        open=(SidebarState.dialog != "") & (SidebarState.dialog != "delete"),
        on_open_change=SidebarState.close_dialog,
    )


def delete_dialog() -> rx.Component:
    return confirm_dialog(
        "Delete this conversation?",
        ("“", SidebarState.dialog_value, "” and all its messages will be deleted. This cannot be undone."),
        "Delete",
        on_confirm=SidebarState.confirm_delete,
        open=SidebarState.dialog == "delete",
        on_open_change=SidebarState.close_dialog,
        max_width="420px",
    )


def label_row(r: rx.Var) -> rx.Component:
    """A folder or tag in the "Folders and tags" dialog: its name and chats, Rename and Delete; or, while
    it is renamed, a box with its name."""
    noun = rx.cond(r["kind"] == "folder", "folder ", "tag ")
    return rx.cond(
        SidebarState.label_edit == r["key"],
        rx.form(
            rx.hstack(
                rx.input(
                    name="name",
                    default_value=r["name"],
                    aria_label="New name for " + r["name"].to(str),
                    auto_focus=True,
                    max_length=100,
                    flex="1",
                    size="1",
                ),
                rx.button("Save", type="submit", size="1"),
                rx.button(
                    "Cancel",
                    type="button",
                    size="1",
                    variant="soft",
                    color_scheme="gray",
                    on_click=SidebarState.cancel_label_edit,
                ),
                width="100%",
                align="center",
                spacing="2",
            ),
            on_submit=SidebarState.save_label,
            width="100%",
        ),
        rx.hstack(
            rx.icon(rx.cond(r["kind"] == "folder", "folder", "tag"), size=14, color=rx.color("gray", 10)),
            rx.text(r["name"], size="2", class_name="solo-label-name"),
            rx.text(r["count"], size="1", color_scheme="gray", white_space="nowrap"),
            rx.icon_button(
                rx.icon("pencil", size=14),
                size="1",
                variant="ghost",
                aria_label="Rename " + noun + r["name"].to(str),
                title="Rename",
                on_click=SidebarState.start_label_edit(r["key"]),
            ),
            rx.icon_button(
                rx.icon("trash_2", size=14),
                size="1",
                variant="ghost",
                color_scheme="red",
                aria_label="Delete " + noun + r["name"].to(str),
                title="Delete",
                on_click=SidebarState.ask_label_delete(r["key"]),
            ),
            width="100%",
            align="center",
            spacing="2",
        ),
    )


def label_section(kind: str, rows: rx.Var, empty: str) -> rx.Component:
    heading = "Folders" if kind == "folder" else "Tags"
    return rx.vstack(
        rx.heading(heading, size="2", as_="h3"),
        rx.cond(
            rows.length() == 0,  # type: ignore[attr-defined]
            rx.text(empty, size="1", color_scheme="gray"),
            rx.vstack(rx.foreach(rows, label_row), spacing="1", width="100%"),
        ),
        rx.form(
            rx.hstack(
                rx.el.input(type="hidden", name="kind", value=kind),
                rx.input(
                    name="name",
                    id=f"new-{kind}-name",
                    placeholder=f"New {kind}",
                    aria_label=f"New {kind} name",
                    max_length=100,
                    flex="1",
                    size="1",
                ),
                rx.button(f"Add {kind}", type="submit", size="1", variant="soft"),
                width="100%",
                align="center",
                spacing="2",
            ),
            on_submit=SidebarState.add_label,
            width="100%",
        ),
        spacing="2",
        width="100%",
    )


def manage_dialog() -> rx.Component:
    return rx.fragment(
        rx.dialog.root(
            rx.dialog.content(
                rx.dialog.title("Folders and tags"),
                rx.dialog.description(
                    "Rename or delete them here. Deleting one keeps its chats: they just lose the folder or tag.",
                    size="2",
                    color_scheme="gray",
                ),
                rx.vstack(
                    rx.cond(
                        SidebarState.manage_error != "",
                        rx.callout(SidebarState.manage_error, color_scheme="red", size="1", role="alert"),
                    ),
                    label_section(
                        "folder",
                        SidebarState.manage_folders,
                        "No folders yet. A chat's … menu can make one too.",
                    ),
                    rx.separator(),
                    label_section("tag", SidebarState.manage_tags, "No tags yet."),
                    rx.hstack(
                        rx.dialog.close(rx.button("Done", variant="soft", color_scheme="gray")),
                        justify="end",
                        width="100%",
                    ),
                    spacing="4",
                    margin_top="16px",
                    width="100%",
                ),
                max_width="460px",
            ),
            open=SidebarState.manage_open,
            on_open_change=SidebarState.close_manage,
        ),
        confirm_dialog(
            rx.cond(
                SidebarState.label_delete.startswith("folder:"),  # type: ignore[attr-defined]
                "Delete this folder?",
                "Delete this tag?",
            ),
            SidebarState.label_delete_text,
            "Delete",
            on_confirm=SidebarState.confirm_label_delete,
            open=SidebarState.label_delete != "",
            on_open_change=SidebarState.cancel_label_delete,
            max_width="420px",
        ),
    )


def dialogs() -> rx.Component:
    return rx.fragment(name_dialog(), delete_dialog(), manage_dialog())


def search_box() -> rx.Component:
    """Searches as the user types (assets/sidebar.js submits the form 300 ms after the last keystroke) and on
    Enter."""
    return rx.form(
        rx.input(
            rx.input.slot(rx.icon("search", size=14)),
            name="q",
            placeholder="Search conversations",
            aria_label="Search conversations",
            default_value=SidebarState.search_query,
            width="100%",
            type="search",
            auto_complete="off",
            max_length=500,
            custom_attrs={"data-search-as-you-type": "1"},
        ),
        on_submit=SidebarState.search,
        width="100%",
    )


def search_results() -> rx.Component:
    return rx.vstack(
        rx.hstack(
            rx.text("Results", size="1", weight="bold", color_scheme="gray"),
            rx.button(
                "Clear",
                size="1",
                variant="ghost",
                on_click=SidebarState.clear_search,
                custom_attrs={"data-clear-search": "1"},
            ),
            justify="between",
            align="center",
            width="100%",
            padding_x="8px",
        ),
        rx.cond(
            SidebarState.results.length() == 0,  # type: ignore[attr-defined]
            rx.text("Nothing found.", size="2", color_scheme="gray", padding_x="8px", role="status"),
        ),
        rx.cond(
            SidebarState.results_cut,
            rx.text(
                "Many chats match: showing the best of the most recent ones. Add a word to narrow it.",
                size="1",
                color_scheme="gray",
                id="search-cut",
                padding_x="8px",
            ),
        ),
        rx.foreach(
            SidebarState.results,
            lambda r: rx.link(
                rx.el.span(r["title"], class_name="solo-conv-title solo-result-title"),
                rx.el.span(
                    rx.foreach(
                        r["parts"].to(list[dict]),  # type: ignore[arg-type]
                        lambda part: rx.cond(part["hit"], rx.el.mark(part["text"]), rx.el.span(part["text"])),
                    ),
                    class_name="solo-snippet",
                ),
                href=r["href"],
                underline="none",
                color="inherit",
                class_name="solo-result",
                _hover={"color": "inherit"},
            ),
        ),
        width="100%",
        spacing="1",
    )


def conversation_list() -> rx.Component:
    return rx.vstack(
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
            (SidebarState.groups.length() == 0) & (SidebarState.view != "all"),  # type: ignore[attr-defined]
            rx.text("No chats here.", size="2", color_scheme="gray", padding_x="8px"),
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
    )


def sidebar_content() -> rx.Component:
    """The sidebar's three parts; it fills its container's height and only the middle one scrolls (also in the
    phone's drawer)."""
    return rx.el.div(
        rx.el.div(
            rx.link(
                rx.icon("square_pen", size=16, aria_hidden="true"),
                "New chat",
                href="/",
                underline="none",
                class_name="solo-new-chat",
                _hover={"color": rx.color("accent", 11)},
            ),
            search_box(),
            rx.hstack(
                view_picker(),
                rx.icon_button(
                    rx.icon("folder_cog", size=16),
                    variant="ghost",
                    size="1",
                    aria_label="Folders and tags",
                    title="Folders and tags: rename, delete, add",
                    on_click=SidebarState.open_manage,
                ),
                width="100%",
                align="center",
                spacing="2",
            ),
            class_name="solo-sidebar-head",
        ),
        rx.el.div(
            rx.cond(SidebarState.search_query != "", search_results(), conversation_list()),
            class_name="solo-sidebar-list",
            on_mount=rx.call_script("-new Date().getTimezoneOffset()", callback=SidebarState.set_utc_offset),
        ),
        rx.el.div(
            import_export_controls(),
            nav_items(chat=False),
            class_name="solo-sidebar-foot",
        ),
        class_name="solo-sidebar",
    )


def sidebar() -> rx.Component:
    return rx.box(
        sidebar_content(),
        class_name="solo-sidebar-pane",
        display=["none", "none", "block"],
    )
