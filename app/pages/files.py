"""/files: the member's knowledge base: upload (button or drag and drop), list, search, filter, preview,
rename, download, collections, delete. Uploads run in assets/files.js; the state is FilesState."""

from __future__ import annotations

import reflex as rx

from components.forms import confirm_dialog, error_callout, notice_callout
from components.shell import app_shell
from state.files import KEYWORD_ONLY, SORTS, FilesState
from state.session import SessionState

INPUT_ID = "files-input"
TAKE = "window.soloFiles ? window.soloFiles.take() : {events: [], active: []}"
DROP_HINT = "Drop files anywhere on this page to upload them."
COLUMNS = ("Name", "Type", "Size", "Pages", "Status", "Added", "Actions")


def _icon_button(icon: str, label: rx.Var | str, on_click: object, **props: object) -> rx.Component:
    props = {"variant": "ghost", "size": "1", "color_scheme": "gray"} | props
    return rx.icon_button(rx.icon(icon, size=15), aria_label=label, title=label, on_click=on_click, **props)


def _status(f: rx.Var) -> rx.Component:
    name = f["name"].to(str)
    return rx.vstack(
        rx.match(
            f["status"],
            ("ready", rx.badge("Ready", color_scheme="green")),
            ("failed", rx.badge("Failed", color_scheme="red")),
            (
                "processing",
                rx.badge(
                    rx.spinner(size="1"), f["status_text"], color_scheme="blue", class_name="files-busy"
                ),
            ),
            rx.badge(f["status_text"], color_scheme="gray"),
        ),
        rx.cond(
            f["status"] == "failed",
            rx.vstack(
                rx.text(f["error"], size="1", color_scheme="red", class_name="files-reason"),
                rx.cond(
                    f["mine"] != "",
                    rx.button(
                        rx.icon("rotate_cw", size=13),
                        "Retry",
                        size="1",
                        variant="soft",
                        aria_label="Retry " + name,
                        on_click=FilesState.retry(f["id"]),
                    ),
                ),
                spacing="1",
                align="start",
            ),
        ),
        spacing="1",
        align="start",
    )


def _actions(f: rx.Var) -> rx.Component:
    name = f["name"].to(str)
    return rx.hstack(
        rx.el.a(
            rx.icon("download", size=15),
            href=f["download"],
            custom_attrs={"download": ""},
            aria_label="Download " + name,
            title="Download " + name,
            class_name="files-icon-link",
        ),
        rx.cond(
            f["mine"] != "",
            rx.fragment(
                _icon_button("pencil", "Rename " + name, FilesState.ask("rename", f["id"])),
                _icon_button(
                    "folder_input", "Collections of " + name, FilesState.ask("collections", f["id"])
                ),
                _icon_button(
                    "trash_2", "Delete " + name, FilesState.ask("delete", f["id"]), color_scheme="red"
                ),
            ),
        ),
        spacing="3",
        align="center",
        justify="end",
    )


def _file_row(f: rx.Var) -> rx.Component:
    return rx.el.tr(
        rx.el.td(
            rx.el.button(
                f["name"],
                type="button",
                class_name="files-name",
                title="Preview the text of " + f["name"].to(str),
                on_click=FilesState.open_preview(f["id"], ""),
            ),
            rx.el.div(
                f["label"], " · ", f["size"], f["pages_short"], " · ", f["date"], class_name="files-meta"
            ),
            rx.cond(
                f["collections"] != "",
                rx.el.div(rx.icon("folder", size=12), f["collections"], class_name="files-in"),
            ),
            class_name="files-c-name",
        ),
        rx.el.td(f["label"], class_name="files-c-type"),
        rx.el.td(f["size"], class_name="files-c-size"),
        rx.el.td(f["pages"], class_name="files-c-pages"),
        rx.el.td(_status(f), class_name="files-c-status"),
        rx.el.td(f["date"], class_name="files-c-date"),
        rx.el.td(_actions(f), class_name="files-c-actions"),
        role="row",
    )


def _upload_row(u: rx.Var) -> rx.Component:
    dismiss = FilesState.dismiss_upload(u["key"])
    return rx.el.tr(
        rx.el.td(rx.el.span(u["name"], class_name="files-name files-name-plain"), class_name="files-c-name"),
        rx.el.td(
            rx.cond(
                u["state"] == "refused",
                rx.flex(
                    rx.badge("Not stored", color_scheme="red", flex_shrink="0"),
                    rx.text(u["message"], size="2", color_scheme="red", role="alert", class_name="files-why"),
                    rx.button("Dismiss", size="1", variant="soft", color_scheme="gray", on_click=dismiss),
                    gap="3",
                    align="start",
                    class_name="files-refused",
                ),
                rx.badge(rx.spinner(size="1"), "Uploading ", u["progress"], color_scheme="gray"),
            ),
            col_span=6,
            class_name="files-c-upload",
        ),
        role="row",
        class_name="files-upload",
    )


def _table() -> rx.Component:
    return rx.el.table(
        rx.el.thead(
            rx.el.tr(
                *[rx.el.th(h, scope="col", class_name=f"files-h-{h.lower()}") for h in COLUMNS], role="row"
            )
        ),
        rx.el.tbody(rx.foreach(FilesState.uploads, _upload_row), rx.foreach(FilesState.files, _file_row)),
        class_name="files-table",
        role="table",
        aria_label="Files",
    )


def _storage() -> rx.Component:
    return rx.vstack(
        rx.text(FilesState.usage_text, size="2", id="files-usage"),
        rx.progress(
            value=FilesState.usage_percent, max=100, size="1", width="100%", aria_label="Storage used"
        ),
        rx.cond(
            FilesState.tenant_usage_text != "",
            rx.text(FilesState.tenant_usage_text, size="1", color_scheme="amber"),
        ),
        spacing="1",
        width="100%",
        max_width="320px",
    )


def _upload_button() -> rx.Component:
    return rx.fragment(
        rx.el.input(
            id=INPUT_ID,
            type="file",
            multiple=True,
            aria_label="Upload files",
            custom_attrs={"data-max-bytes": FilesState.max_bytes.to(str)},
            class_name="files-input",
        ),
        rx.el.label(
            rx.icon("upload", size=15), "Upload", html_for=INPUT_ID, class_name="files-upload-button"
        ),
    )


def _select(label: str, value: rx.Var, on_change: rx.EventHandler, *options: rx.Component) -> rx.Component:
    return rx.el.select(
        *options,
        value=value,
        on_change=on_change,
        aria_label=label,
        class_name="solo-native-select files-select",
    )


def _toolbar() -> rx.Component:
    return rx.flex(
        rx.input(
            value=FilesState.query,
            on_change=FilesState.search,  # controlled with on_change: debounced (300 ms)
            placeholder="Search by name",
            aria_label="Search files",
            type="search",
            size="2",
            class_name="files-search",
        ),
        _select(
            "Filter by type",
            FilesState.kind,
            FilesState.set_kind,
            rx.el.option("All types", value="all"),
            rx.foreach(FilesState.kinds, lambda k: rx.el.option(k["label"], value=k["value"])),
        ),
        _select(
            "Filter by collection",
            FilesState.collection,
            FilesState.set_collection,
            rx.el.option("All collections", value="all"),
            rx.foreach(FilesState.collections, lambda c: rx.el.option(c["name"], value=c["id"])),
        ),
        _select(
            "Sort by",
            FilesState.sort,
            FilesState.set_sort,
            *[rx.el.option(label, value=value) for value, label in SORTS.items()],
        ),
        gap="2",
        wrap="wrap",
        width="100%",
        class_name="files-toolbar",
    )


def _empty() -> rx.Component:
    filtered = (FilesState.query != "") | (FilesState.kind != "all") | (FilesState.collection != "all")
    return rx.cond(
        FilesState.loaded & (FilesState.files.length() == 0) & (FilesState.uploads.length() == 0),
        rx.box(
            rx.cond(
                filtered,
                rx.text("No files match these filters.", size="2", color_scheme="gray"),
                rx.vstack(
                    rx.icon("files", size=28, color=rx.color("gray", 9)),
                    rx.text("No files yet.", weight="medium"),
                    rx.text(
                        "Upload PDFs, Word, PowerPoint and Excel files, text or images: chats can then search "
                        "them and cite their pages.",
                        size="2",
                        color_scheme="gray",
                    ),
                    align="center",
                    spacing="2",
                ),
            ),
            class_name="files-empty",
        ),
    )


def _end(*buttons: rx.Component) -> rx.Component:
    return rx.hstack(*buttons, justify="end", spacing="3", width="100%")


def _cancel(**props: object) -> rx.Component:
    return rx.button("Cancel", type="button", variant="soft", color_scheme="gray", **props)


def _dialog_error() -> rx.Component:
    return rx.cond(
        FilesState.dialog_error != "",
        rx.callout(FilesState.dialog_error, color_scheme="red", size="1", role="alert", width="100%"),
    )


def _rename_dialog() -> rx.Component:
    return rx.dialog.root(
        rx.dialog.content(
            rx.dialog.title("Rename ", FilesState.dialog_file),
            rx.form(
                rx.vstack(
                    rx.el.label("New name", html_for="files-rename", class_name="solo-label"),
                    rx.input(
                        id="files-rename",
                        name="name",
                        default_value=FilesState.dialog_file,
                        auto_focus=True,
                        max_length=300,
                        width="100%",
                    ),
                    _dialog_error(),
                    _end(rx.dialog.close(_cancel()), rx.button("Save", type="submit")),
                    spacing="3",
                ),
                on_submit=FilesState.rename,
            ),
            max_width="440px",
        ),
        open=FilesState.dialog == "rename",
        on_open_change=FilesState.close_dialog,
    )


def _delete_dialog() -> rx.Component:
    return confirm_dialog(
        ("Delete ", FilesState.dialog_file, "?"),
        "Its text leaves the knowledge base; chats that cite it keep the citation without the link.",
        "Delete",
        on_confirm=FilesState.delete,
        open=FilesState.dialog == "delete",
        on_open_change=FilesState.close_dialog,
        max_width="480px",
    )


def _file_collections_dialog() -> rx.Component:
    def choice(c: rx.Var) -> rx.Component:
        return rx.cond(
            c["editable"] != "",
            rx.checkbox(
                c["name"],
                checked=FilesState.file_collection_ids.contains(c["id"]),
                on_change=lambda on: FilesState.toggle_file_collection(c["id"], on),
            ),
        )

    return rx.dialog.root(
        rx.dialog.content(
            rx.dialog.title("Collections of ", FilesState.dialog_file),
            rx.dialog.description(
                "Chats that search a collection find this file's text.", size="2", color_scheme="gray"
            ),
            rx.vstack(
                rx.cond(
                    FilesState.collections.length() > 0,
                    rx.vstack(rx.foreach(FilesState.collections, choice), spacing="2"),
                    rx.text("No collections yet: create one first.", size="2", color_scheme="gray"),
                ),
                rx.button("Manage collections", variant="ghost", size="1", on_click=FilesState.open_manage),
                _dialog_error(),
                _end(
                    rx.dialog.close(_cancel()), rx.button("Save", on_click=FilesState.save_file_collections)
                ),
                spacing="3",
                margin_top="12px",
            ),
            max_width="440px",
        ),
        open=FilesState.dialog == "collections",
        on_open_change=FilesState.close_dialog,
    )


def _collection_row(c: rx.Var) -> rx.Component:
    name = c["name"].to(str)
    return rx.box(
        rx.cond(
            FilesState.collection_edit == c["id"],
            rx.form(
                rx.hstack(
                    rx.input(
                        name="name",
                        default_value=c["name"],
                        aria_label="New name for " + name,
                        auto_focus=True,
                        max_length=100,
                        flex="1",
                        min_width="0",
                    ),
                    rx.button("Save", type="submit", size="2"),
                    _cancel(size="2", on_click=FilesState.edit_collection("")),
                    spacing="2",
                    width="100%",
                ),
                on_submit=FilesState.rename_collection,
                width="100%",
            ),
            rx.cond(
                FilesState.collection_delete == c["id"],
                rx.hstack(
                    rx.text("Delete “", c["name"], "”? Its files stay.", size="2", flex="1"),
                    rx.button("Delete", size="1", color_scheme="red", on_click=FilesState.delete_collection),
                    _cancel(size="1", on_click=FilesState.ask_delete_collection("")),
                    spacing="2",
                    align="center",
                    width="100%",
                ),
                rx.hstack(
                    rx.vstack(
                        rx.text(c["name"], weight="medium", class_name="files-wrap"),
                        rx.hstack(
                            rx.cond(c["shared"] != "", rx.badge("Shared", color_scheme="blue", size="1")),
                            rx.text(c["count"], " files", size="1", color_scheme="gray"),
                            spacing="2",
                            align="center",
                        ),
                        spacing="0",
                        flex="1",
                        min_width="0",
                    ),
                    rx.cond(
                        c["editable"] != "",
                        rx.hstack(
                            _icon_button("pencil", "Rename " + name, FilesState.edit_collection(c["id"])),
                            _icon_button(
                                "trash_2", "Delete " + name, FilesState.ask_delete_collection(c["id"])
                            ),
                            spacing="3",
                        ),
                    ),
                    align="center",
                    width="100%",
                ),
            ),
        ),
        class_name="files-collection",
    )


def _manage_dialog() -> rx.Component:
    return rx.dialog.root(
        rx.dialog.content(
            rx.dialog.title("Collections"),
            rx.dialog.description(
                "Group files so that a chat searches just those. Deleting a collection keeps its files.",
                size="2",
                color_scheme="gray",
            ),
            rx.vstack(
                rx.form(
                    rx.vstack(
                        rx.el.label(
                            "New collection", html_for="files-new-collection", class_name="solo-label"
                        ),
                        rx.hstack(
                            rx.input(id="files-new-collection", name="name", max_length=100, flex="1"),
                            rx.button("Create", type="submit"),
                            spacing="2",
                            width="100%",
                        ),
                        rx.cond(
                            FilesState.is_admin,
                            rx.el.label(
                                rx.el.input(type="checkbox", name="shared"),
                                "Shared with the workspace (every member can read its files)",
                                class_name="files-check",
                            ),
                        ),
                        spacing="2",
                        width="100%",
                    ),
                    on_submit=FilesState.create_collection,
                    reset_on_submit=True,
                    width="100%",
                ),
                _dialog_error(),
                rx.vstack(rx.foreach(FilesState.collections, _collection_row), spacing="0", width="100%"),
                _end(rx.dialog.close(rx.button("Done", variant="soft", color_scheme="gray"))),
                spacing="4",
                margin_top="12px",
                width="100%",
            ),
            max_width="480px",
        ),
        open=FilesState.dialog == "manage",
        on_open_change=FilesState.close_dialog,
    )


def _preview_section(s: rx.Var) -> rx.Component:
    return rx.box(
        rx.cond(
            s["page_title"] != "",
            rx.heading(s["page_title"], size="3", id=s["anchor"], class_name="files-page-title"),
        ),
        rx.cond(s["heading"] != "", rx.text(s["heading"], weight="bold", size="2")),
        rx.text(s["text"], size="2", class_name="files-text"),
    )


def _preview_dialog() -> rx.Component:
    return rx.dialog.root(
        rx.dialog.content(
            rx.hstack(
                rx.dialog.title(FilesState.preview_name, class_name="files-wrap", margin="0"),
                rx.dialog.close(rx.icon_button(rx.icon("x"), variant="ghost", aria_label="Close preview")),
                justify="between",
                align="start",
                width="100%",
            ),
            rx.dialog.description("The text the knowledge base holds.", size="1", color_scheme="gray"),
            rx.cond(
                FilesState.preview_note != "",
                rx.callout(
                    FilesState.preview_note, icon="info", size="1", color_scheme="gray", margin_top="8px"
                ),
            ),
            rx.box(
                rx.el.span(id="preview-top"),
                rx.foreach(FilesState.preview_sections, _preview_section),
                class_name="files-preview",
            ),
            max_width="760px",
            width="calc(100vw - 24px)",
        ),
        open=FilesState.preview_open,
        on_open_change=FilesState.close_preview,
    )


def _body() -> rx.Component:
    return rx.vstack(
        rx.el.button(
            "Uploads changed",
            id="files-events",
            type="button",
            hidden=True,
            on_click=rx.call_script(TAKE, callback=FilesState.upload_events),
            on_mount=rx.call_script(TAKE, callback=FilesState.upload_events),
        ),
        error_callout(FilesState.error),
        notice_callout(FilesState.notice),
        rx.cond(
            FilesState.keyword_only,
            rx.callout(
                KEYWORD_ONLY, icon="info", size="1", color_scheme="gray", variant="surface", width="100%"
            ),
        ),
        rx.flex(
            _storage(),
            rx.hstack(
                _upload_button(),
                rx.button(
                    rx.icon("folders", size=15),
                    "Manage collections",
                    variant="soft",
                    on_click=FilesState.open_manage,
                ),
                spacing="2",
                align="center",
                wrap="wrap",
            ),
            justify="between",
            align="end",
            gap="3",
            wrap="wrap",
            width="100%",
        ),
        rx.text(DROP_HINT, size="1", color_scheme="gray", class_name="files-drop-hint"),
        _toolbar(),
        rx.cond(
            (FilesState.files.length() > 0) | (FilesState.uploads.length() > 0),
            rx.box(_table(), width="100%", class_name="files-table-box"),
        ),
        _empty(),
        rx.cond(FilesState.has_more, rx.button("Load more", variant="soft", on_click=FilesState.load_more)),
        rx.box(
            rx.vstack(rx.icon("upload", size=32), rx.text("Drop to upload"), align="center"),
            class_name="files-overlay",
        ),
        _rename_dialog(),
        _delete_dialog(),
        _file_collections_dialog(),
        _manage_dialog(),
        _preview_dialog(),
        id="files-drop",
        spacing="3",
        width="100%",
        on_unmount=FilesState.page_closed,
    )


def files() -> rx.Component:
    return app_shell("Files", _body)


def register(app: rx.App) -> None:
    app.add_page(files, route="/files", title="Files", on_load=[SessionState.load_private, FilesState.load])
