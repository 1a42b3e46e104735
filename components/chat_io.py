"""The chat sidebar's import and export controls (state: `ChatIOState`; script: assets/chat_io.js)."""

from __future__ import annotations

import reflex as rx

from services.chat import MAX_IMPORT_BYTES
from state.chat_io import ChatIOState

FILE_INPUT_ID = "import-file"


def import_export_controls() -> rx.Component:
    return rx.vstack(
        rx.script(src="/chat_io.js"),
        rx.el.label(
            rx.icon("upload", size=14),
            "Import chats",
            html_for=FILE_INPUT_ID,
            aria_disabled=ChatIOState.importing,
            style={
                "display": "inline-flex",
                "align_items": "center",
                "gap": "6px",
                "cursor": "pointer",
                "font_size": "14px",
                "padding": "2px 8px",
                "color": rx.color("accent", 11),
            },
        ),
        rx.el.input(
            id=FILE_INPUT_ID,
            type="file",
            accept=".json,.zip,application/json,application/zip",
            disabled=ChatIOState.importing,
            custom_attrs={"data-max-bytes": str(MAX_IMPORT_BYTES)},
            # Visually hidden but reachable by keyboard and assistive technology (the label names it).
            style={
                "position": "absolute",
                "width": "1px",
                "height": "1px",
                "opacity": "0",
                "overflow": "hidden",
            },
        ),
        # Filled in by the upload script (upload progress), outside React's rendering.
        rx.el.span(id="import-upload-progress", role="status", font_size="12px"),
        rx.el.button(
            "Upload finished",
            id="import-staged",
            type="button",
            hidden=True,
            on_click=rx.call_script("window.soloImport.take()", callback=ChatIOState.import_files),
        ),
        rx.cond(
            ChatIOState.import_status != "",
            rx.text(ChatIOState.import_status, size="1", role="status"),
        ),
        rx.cond(
            ChatIOState.import_error != "",
            rx.callout(ChatIOState.import_error, color_scheme="red", size="1", role="alert"),
        ),
        rx.cond(
            ChatIOState.import_skipped.length() > 0,  # type: ignore[attr-defined]
            rx.el.details(
                rx.el.summary("Conversations that were not imported"),
                rx.el.ul(rx.foreach(ChatIOState.import_skipped, lambda s: rx.el.li(s, font_size="12px"))),
            ),
        ),
        rx.cond(
            (ChatIOState.import_status != "") | (ChatIOState.import_error != ""),
            rx.button("Dismiss", variant="ghost", size="1", on_click=ChatIOState.dismiss_import),
        ),
        rx.button(
            rx.icon("download", size=14),
            "Export all",
            variant="ghost",
            size="1",
            on_click=ChatIOState.export_all,
        ),
        rx.cond(
            ChatIOState.export_status != "",
            rx.text(ChatIOState.export_status, size="1", role="status"),
        ),
        spacing="2",
        width="100%",
        # An outcome belongs to the page it happened on: gone after a reload or on another page.
        on_mount=ChatIOState.page_opened,
    )


def export_menu_items() -> list[rx.Component]:
    return [
        rx.menu.item("Markdown", on_select=ChatIOState.export("md")),
        rx.menu.item("JSON (whole tree)", on_select=ChatIOState.export("json")),
    ]
