"""Attachment chips (the composer's and a sent message's) and a reply's Sources list. No state logic here: the
composer's chips come from `AttachState`, a message's from its stored parts (`state.chat.msg_dict`)."""

from __future__ import annotations

import reflex as rx

from components.markdown import safe_markdown
from state.attachments import AttachState


def _chip_body(c: rx.Var, *, thumb: bool) -> list[rx.Component]:
    return [
        rx.cond(
            thumb & (c["thumb"] != ""),
            rx.image(src=c["thumb"].to(str), alt="", class_name="solo-file-chip-thumb"),
            rx.icon(rx.cond(c["image"] != "", "image", "file_text"), size=16, aria_hidden="true"),
        ),
        rx.vstack(
            rx.text(c["name"], size="1", weight="medium", class_name="solo-ellipsis solo-file-chip-name"),
            rx.text(
                rx.cond(c["label"] != "", c["label"].to(str) + " · " + c["size"].to(str), c["size"]),
                size="1",
                color_scheme="gray",
            ),
            spacing="0",
            min_width="0",
        ),
    ]


def pending_chip(c: rx.Var) -> rx.Component:
    """A file attached in the composer: uploading, stored (with its type and size), or refused (with why)."""
    return rx.hstack(
        *_chip_body(c, thumb=True),
        rx.cond(c["status"] == "uploading", rx.spinner(size="1", aria_label="Uploading")),
        rx.cond(
            c["status"] == "refused",
            rx.text(
                c["error"], size="1", color_scheme="red", class_name="solo-file-chip-error", role="alert"
            ),
        ),
        rx.icon_button(
            rx.icon("x", size=12),
            size="1",
            variant="ghost",
            color_scheme="gray",
            type="button",
            aria_label="Remove " + c["name"].to(str),
            title="Remove",
            on_click=AttachState.remove(c["tmp"]),
        ),
        class_name="solo-file-chip",
        data_status=c["status"],
        align="center",
        spacing="2",
    )


def attach_controls(max_bytes: int) -> rx.Component:
    """The paperclip button, its hidden file input, and the hidden button the upload script reports through."""
    return rx.fragment(
        rx.el.input(
            type="file",
            id="attach-input",
            multiple=True,
            aria_label="Choose files to attach",
            custom_attrs={"data-max-bytes": str(max_bytes)},
            class_name="solo-visually-hidden",
            tab_index=-1,
        ),
        rx.icon_button(
            rx.icon("paperclip", size=16),
            type="button",
            variant="ghost",
            color_scheme="gray",
            size="2",
            aria_label="Attach files",
            title="Attach files (or drop them here, or paste an image)",
            on_click=rx.call_script("document.getElementById('attach-input').click()"),
        ),
        rx.el.button(
            id="attach-sync",
            type="button",
            hidden=True,
            tab_index=-1,
            aria_hidden="true",
            on_click=rx.call_script("window.soloAttach.take()", callback=AttachState.sync),
        ),
    )


def pending_chips() -> rx.Component:
    return rx.cond(
        AttachState.pending.length() > 0,  # type: ignore[attr-defined]
        rx.flex(
            rx.foreach(AttachState.pending, pending_chip), class_name="solo-file-chips", wrap="wrap", gap="2"
        ),
    )


def sent_chip(f: rx.Var) -> rx.Component:
    body = _chip_body(f, thumb=True)
    return rx.cond(
        f["href"] != "",
        rx.link(
            *body, href=f["href"].to(str), class_name="solo-file-chip", underline="none", is_external=True
        ),
        rx.hstack(
            *body, class_name="solo-file-chip", title="This file was deleted", align="center", spacing="2"
        ),
    )


def message_files(m: rx.Var) -> rx.Component:
    files = m["files"].to(list[dict[str, str]])
    return rx.cond(
        files.length() > 0,  # type: ignore[attr-defined]
        rx.flex(
            rx.foreach(files, sent_chip),
            class_name="solo-file-chips solo-file-chips-sent",
            wrap="wrap",
            gap="2",
        ),
    )


def _source(s: rx.Var) -> rx.Component:
    return rx.el.li(
        rx.hstack(
            rx.text("[" + s["n"].to(str) + "]", size="1", weight="bold", color_scheme="gray"),
            rx.cond(
                s["href"] != "",
                rx.link(s["name"], href=s["href"].to(str), size="1", weight="medium"),
                rx.text(s["name"], size="1", weight="medium"),
            ),
            rx.cond(s["page"] != "", rx.text("page " + s["page"].to(str), size="1", color_scheme="gray")),
            spacing="2",
            align="baseline",
            wrap="wrap",
        ),
        rx.box(safe_markdown(s["snippet"].to(str)), class_name="solo-source-snippet"),
        id="cite-" + s["n"].to(str),
        class_name="solo-source",
    )


def sources(m: rx.Var) -> rx.Component:
    items = m["sources"].to(list[dict[str, str]])
    return rx.cond(
        items.length() > 0,  # type: ignore[attr-defined]
        rx.el.section(
            rx.text("Sources", size="1", weight="bold", as_="div"),
            rx.el.ol(rx.foreach(items, _source), class_name="solo-sources-list"),
            class_name="solo-sources",
            aria_label="Sources",
        ),
    )


def _collection_choice(c: rx.Var) -> rx.Component:
    return rx.el.label(
        rx.checkbox(
            checked=AttachState.chosen.contains(c["id"]),  # type: ignore[attr-defined]
            on_change=lambda _: AttachState.toggle_collection(c["id"]),
        ),
        rx.text(c["name"], size="2", class_name="solo-ellipsis"),
        rx.text(
            c["files"].to(str) + rx.cond(c["files"] == "1", " file", " files"),
            rx.cond(c["shared"] != "", " · shared", ""),
            size="1",
            color_scheme="gray",
        ),
        class_name="solo-knowledge-choice",
    )


def knowledge_picker() -> rx.Component:
    """Which collections this conversation searches for its answers."""
    count = AttachState.chosen.length()  # type: ignore[attr-defined]
    return rx.popover.root(
        rx.popover.trigger(
            rx.button(
                rx.icon("library", size=16),
                rx.cond(count > 0, rx.text(count, size="1")),
                type="button",
                variant=rx.cond(count > 0, "soft", "ghost"),
                color_scheme=rx.cond(count > 0, "accent", "gray"),
                size="2",
                aria_label="Knowledge",
                title="Knowledge: collections this chat searches",
                class_name="solo-knowledge-button",
            )
        ),
        rx.popover.content(
            rx.vstack(
                rx.text("Knowledge", weight="bold", size="2"),
                rx.text(
                    "Answers in this chat search the collections you tick.", size="1", color_scheme="gray"
                ),
                rx.cond(
                    AttachState.collections.length() > 0,  # type: ignore[attr-defined]
                    rx.vstack(
                        rx.foreach(AttachState.collections, _collection_choice), spacing="1", width="100%"
                    ),
                    rx.text("You have no collections yet.", size="1"),
                ),
                rx.cond(
                    AttachState.knowledge_error != "",
                    rx.text(AttachState.knowledge_error, size="1", color_scheme="red", role="alert"),
                ),
                rx.link("Manage files and collections", href="/files", size="1"),
                spacing="2",
                width="100%",
            ),
            side="top",
            align="start",
            max_width="320px",
        ),
        on_open_change=AttachState.open_knowledge,
    )
