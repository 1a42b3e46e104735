"""/admin/models: owners and admins choose which models their workspace offers, its embeddings model, and its
memory settings."""

from __future__ import annotations

import reflex as rx

from components.forms import confirm_dialog, error_callout, field, notice_callout
from components.shell import app_shell
from state.admin_models import AdminModelsState
from state.session import SessionState

# A native <select> (Radix's reset unsets its look): a border like the inputs', and a chevron drawn in.
_CHEVRON = (
    "url(\"data:image/svg+xml,%3Csvg xmlns='http://www.w3.org/2000/svg' width='12' height='12' viewBox='0 0 24 24' "
    "fill='none' stroke='%238b8d98' stroke-width='2.5' stroke-linecap='round' stroke-linejoin='round'%3E"
    "%3Cpath d='m6 9 6 6 6-6'/%3E%3C/svg%3E\")"
)
SELECT_STYLE = {
    "padding": "6px 32px 6px 10px",
    "min_height": "40px",
    "border-radius": "6px",
    "border": "1px solid var(--gray-7)",
    "background_color": "var(--color-surface)",
    "background_image": _CHEVRON,
    "background_repeat": "no-repeat",
    "background_position": "right 10px center",
    "color": "var(--gray-12)",
    "cursor": "pointer",
}


def _providers() -> rx.Component:
    # Two columns, so that a phone shows the whole row (and the Remove button).
    return rx.table.root(
        rx.table.header(
            rx.table.row(rx.table.column_header_cell("Provider"), rx.table.column_header_cell(""))
        ),
        rx.table.body(
            rx.foreach(
                AdminModelsState.providers,
                lambda p: rx.table.row(
                    rx.table.cell(
                        rx.vstack(
                            rx.text(p["label"], weight="medium"),
                            rx.text(
                                p["kind"],
                                " ",
                                p["base_url"],
                                size="1",
                                color_scheme="gray",
                                style={"word_break": "break-all"},
                            ),
                            rx.hstack(
                                rx.badge(p["source"], color_scheme="gray", variant="surface"),
                                rx.text("key ", rx.code(p["key_hint"]), size="1"),
                                rx.text(
                                    p["count"], rx.cond(p["count"] == "1", " model", " models"), size="1"
                                ),
                                spacing="3",
                                align="center",
                                wrap="wrap",
                            ),
                            rx.cond(p["error"] != "", rx.text(p["error"], size="1", color_scheme="red")),
                            spacing="1",
                        )
                    ),
                    rx.table.cell(
                        rx.cond(
                            p["source"] == "workspace",
                            rx.button(
                                "Remove",
                                size="1",
                                color_scheme="red",
                                variant="soft",
                                aria_label="Remove " + p["label"].to(str),
                                on_click=AdminModelsState.ask_remove(p["id"]),
                            ),
                        ),
                        text_align="right",
                    ),
                    align="center",
                ),
            )
        ),
        width="100%",
    )


def _models() -> rx.Component:
    return rx.vstack(
        rx.foreach(
            AdminModelsState.models,
            lambda m: rx.hstack(
                rx.switch(
                    checked=m["enabled"] != "",
                    on_change=lambda on: AdminModelsState.toggle(m["key"], on),
                    aria_label="Enable " + m["label"].to(str),
                ),
                rx.text(m["label"], size="2"),
                rx.cond(m["key"] == AdminModelsState.default, rx.badge("default")),
                rx.cond(
                    (m["enabled"] != "") & (m["key"] != AdminModelsState.default),
                    rx.button(
                        "Make default",
                        size="1",
                        variant="ghost",
                        on_click=AdminModelsState.set_default(m["key"]),
                    ),
                ),
                align="center",
                spacing="3",
            ),
        ),
        spacing="2",
    )


# "Save anyway" submits the same form with force=yes: the typed values (API key included) go from the
# browser's form, as with "Save provider"; the flag is cleared again right after the submit is read.
_SAVE_ANYWAY = (
    "(() => { const f = document.getElementById('provider-form'); if (!f) return; "
    "f.elements.force.value = 'yes'; f.requestSubmit(); f.elements.force.value = ''; })()"
)


def _add_form() -> rx.Component:
    return rx.form(
        rx.vstack(
            rx.hstack(
                field("Id", "provider_id", placeholder="ollama"),
                field("Label", "label", placeholder="Ollama", required=False),
                width="100%",
            ),
            rx.vstack(
                rx.el.label("Kind", html_for="field-kind", class_name="solo-label"),
                rx.el.select(
                    rx.el.option("OpenAI-compatible endpoint", value="openai_compatible"),
                    rx.el.option("OpenAI", value="openai"),
                    rx.el.option("Anthropic", value="anthropic"),
                    id="field-kind",
                    name="kind",
                    class_name="rt-reset",
                    style=SELECT_STYLE,
                ),
                spacing="1",
            ),
            field(
                "Base URL",
                "base_url",
                placeholder="http://127.0.0.1:11434/v1 (empty for OpenAI/Anthropic)",
                required=False,
            ),
            field(
                "API key",
                "api_key",
                type="password",
                autocomplete="off",
                required=False,
                placeholder="stored encrypted; leave empty to keep the current one",
            ),
            field(
                "Models", "models", placeholder="comma separated; empty = ask the provider", required=False
            ),
            rx.el.input(type="hidden", name="force", default_value="", id="provider-force"),
            error_callout(AdminModelsState.add_error),
            notice_callout(AdminModelsState.add_notice),
            rx.hstack(
                rx.button("Save provider", type="submit"),
                rx.cond(
                    AdminModelsState.add_unreachable,
                    rx.button(
                        "Save anyway",
                        type="button",
                        variant="soft",
                        color_scheme="gray",
                        on_click=rx.call_script(_SAVE_ANYWAY),
                    ),
                ),
                rx.cond(
                    AdminModelsState.add_unreachable,
                    rx.text("if it is only down for now", size="1", color_scheme="gray"),
                ),
                align="center",
                spacing="3",
                wrap="wrap",
            ),
            spacing="3",
            width="100%",
            max_width="560px",
        ),
        id="provider-form",
        key=AdminModelsState.form_key,
        on_submit=AdminModelsState.save_provider,
    )


def _embeddings() -> rx.Component:
    own = AdminModelsState.emb_provider != ""
    return rx.vstack(
        rx.text(
            "The model that turns files and questions into vectors, so that search finds passages by meaning "
            "as well as by their words.",
            size="2",
            color_scheme="gray",
        ),
        rx.text("In use: ", rx.text.strong(AdminModelsState.emb_current), size="2", id="embeddings-current"),
        rx.cond(
            AdminModelsState.emb_problem != "",
            rx.text(
                AdminModelsState.emb_problem, " Search uses keywords only.", size="2", color_scheme="red"
            ),
        ),
        rx.form(
            rx.vstack(
                rx.vstack(
                    rx.el.label(
                        "Embeddings provider", html_for="field-emb_provider", class_name="solo-label"
                    ),
                    rx.el.select(
                        rx.el.option(AdminModelsState.emb_server, value=""),
                        rx.foreach(
                            AdminModelsState.emb_providers,
                            lambda p: rx.el.option(p["label"], value=p["id"]),
                        ),
                        id="field-emb_provider",
                        name="emb_provider",
                        value=AdminModelsState.emb_provider,
                        on_change=AdminModelsState.choose_embeddings_provider,
                        class_name="rt-reset",
                        style={**SELECT_STYLE, "max_width": "100%"},
                    ),
                    rx.text(
                        "OpenAI and OpenAI-compatible providers of this workspace; add one below.",
                        size="1",
                        color_scheme="gray",
                    ),
                    spacing="1",
                    width="100%",
                ),
                rx.cond(
                    own,
                    rx.flex(
                        rx.box(
                            field(
                                "Embeddings model",
                                "emb_model",
                                placeholder="text-embedding-3-small",
                                default_value=AdminModelsState.emb_model,
                            ),
                            flex="1",
                            min_width="220px",
                        ),
                        rx.box(
                            field(
                                "Dimension",
                                "emb_dim",
                                type="number",
                                default_value=AdminModelsState.emb_dim,
                                required=False,
                            ),
                            width="140px",
                        ),
                        spacing="3",
                        wrap="wrap",
                        width="100%",
                    ),
                ),
                rx.cond(
                    own,
                    rx.text(
                        "Dimension 0 keeps the model's own size (learnt when saving). Saving asks the model to "
                        "embed one text first.",
                        size="1",
                        color_scheme="gray",
                    ),
                ),
                error_callout(AdminModelsState.emb_error),
                notice_callout(AdminModelsState.emb_notice),
                rx.button("Save", type="submit", loading=AdminModelsState.emb_saving),
                spacing="3",
                width="100%",
                max_width="560px",
            ),
            id="embeddings-form",
            key=AdminModelsState.emb_form_key,
            on_submit=AdminModelsState.save_embeddings,
            width="100%",
        ),
        rx.text(
            "Changing the model embeds every file again in the background; until a file is done, it is "
            "searched by keywords.",
            size="1",
            color_scheme="gray",
        ),
        spacing="3",
        width="100%",
    )


def _memory() -> rx.Component:
    return rx.vstack(
        rx.text(
            "The assistant remembers what members tell it about themselves and uses it in later chats. Each "
            "member sees and edits their own memories on their Memory page; admins cannot read them.",
            size="2",
            color_scheme="gray",
        ),
        rx.el.label(
            rx.hstack(
                rx.switch(
                    checked=AdminModelsState.mem_enabled,
                    on_change=AdminModelsState.set_memory_enabled,
                    id="field-mem_enabled",
                ),
                rx.text("Memory for this workspace", size="2", weight="medium"),
                align="center",
                spacing="2",
            ),
        ),
        rx.vstack(
            rx.el.label("Memory model", html_for="field-mem_model", class_name="solo-label"),
            rx.el.select(
                rx.el.option("The conversation's own model", value=""),
                rx.foreach(
                    AdminModelsState.models,
                    lambda m: rx.cond(m["enabled"] == "yes", rx.el.option(m["label"], value=m["key"])),
                ),
                id="field-mem_model",
                value=AdminModelsState.mem_model,
                on_change=AdminModelsState.choose_memory_model,
                disabled=~AdminModelsState.mem_enabled,
                class_name="rt-reset",
                style={**SELECT_STYLE, "max_width": "100%"},
            ),
            rx.text(
                "Reads new messages after a few turns or a quiet pause and decides what to keep; a small, "
                "cheap model is enough.",
                size="1",
                color_scheme="gray",
            ),
            spacing="1",
            width="100%",
            max_width="560px",
        ),
        error_callout(AdminModelsState.mem_error),
        notice_callout(AdminModelsState.mem_notice),
        rx.button("Save memory settings", on_click=AdminModelsState.save_memory),
        spacing="3",
        width="100%",
    )


def _remove_dialog() -> rx.Component:
    return confirm_dialog(
        "Remove " + AdminModelsState.remove_label + "?",
        "Members can no longer chat with its models, and its stored API key is deleted. Existing conversations are kept. To use it again, add it again with its key.",
        "Remove provider",
        on_confirm=AdminModelsState.confirm_remove,
        open=AdminModelsState.remove_open,
        on_open_change=AdminModelsState.remove_dialog_changed,
    )


def _body() -> rx.Component:
    return rx.vstack(
        error_callout(AdminModelsState.error),
        notice_callout(AdminModelsState.notice),
        rx.cond(
            AdminModelsState.allowed,
            rx.vstack(
                rx.card(
                    rx.vstack(rx.heading("Providers", size="4"), _providers(), width="100%"), width="100%"
                ),
                rx.card(
                    rx.vstack(
                        rx.heading("Models", size="4"),
                        rx.text(
                            "Members choose among the enabled models; new chats start with the default.",
                            size="2",
                            color_scheme="gray",
                        ),
                        _models(),
                        width="100%",
                    ),
                    width="100%",
                ),
                rx.card(
                    rx.vstack(rx.heading("Embeddings", size="4"), _embeddings(), width="100%"),
                    width="100%",
                    role="region",
                    aria_label="Embeddings",  # the heading's text: tests and screen readers find it by it
                ),
                rx.card(
                    rx.vstack(rx.heading("Memory", size="4"), _memory(), width="100%"),
                    width="100%",
                    role="region",
                    aria_label="Memory",
                ),
                rx.card(
                    rx.vstack(rx.heading("Add a provider", size="4"), _add_form(), width="100%"), width="100%"
                ),
                _remove_dialog(),
                spacing="4",
                width="100%",
            ),
        ),
        spacing="3",
        width="100%",
    )


def admin_models() -> rx.Component:
    return app_shell("Models", _body)


def register(app: rx.App) -> None:
    app.add_page(
        admin_models,
        route="/admin/models",
        title="Models",
        on_load=[SessionState.load_private, AdminModelsState.load],
    )
