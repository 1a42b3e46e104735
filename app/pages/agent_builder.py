"""/agents/new and /agents/<id>: the agent builder (AgentBuilderState): the form, versions, compare, delete;
the preview and test chat are app/pages/agent_test_chat.py."""

from __future__ import annotations

import reflex as rx

from app.pages.agent_avatar import avatar_picker, avatar_problem
from app.pages.agent_test_chat import preview, test_chat
from app.pages.agent_tools import choice, tools_fieldset
from app.pages.agents import link_button
from components.agent_card import badge
from components.forms import confirm_dialog, error_callout
from components.shell import app_shell
from services.agents import store
from state.agent_builder import VISIBILITY_LABELS, AgentBuilderState
from state.agent_test import AgentTestState

B = AgentBuilderState
T = AgentTestState


# The builder: the form ----------------------------------------------------------------------------------


def _field(label: str, field_id: str, control: rx.Component, hint: str | rx.Component = "") -> rx.Component:
    return rx.el.div(
        rx.el.label(label, html_for=field_id, class_name="solo-label"),
        control,
        rx.text(hint, size="1", color_scheme="gray")
        if isinstance(hint, str) and hint
        else hint or rx.fragment(),
        class_name="agent-field",
    )


def _select(field_id: str, value: rx.Var, on_change: object, *options: rx.Component) -> rx.Component:
    return rx.el.select(
        *options, id=field_id, value=value, on_change=on_change, class_name="solo-native-select agent-select"
    )


def _basics() -> rx.Component:
    return rx.el.fieldset(
        rx.el.legend("Basics"),
        _field(
            "Name",
            "agent-name",
            rx.input(
                id="agent-name",
                value=B.name,
                on_change=B.set_name,
                max_length=store.MAX_NAME,
                placeholder="For example: Offer Coach",
                width="100%",
            ),
        ),
        _field(
            "Description",
            "agent-description",
            rx.text_area(
                id="agent-description",
                value=B.description,
                on_change=B.set_description,
                max_length=store.MAX_DESCRIPTION,
                rows="2",
                resize="vertical",
                width="100%",
                placeholder="What it helps with, in a sentence members see on its card.",
            ),
        ),
        rx.el.div(
            _field("Avatar", "agent-avatar", avatar_picker(), avatar_problem()),
            _field(
                "Category",
                "agent-category",
                rx.fragment(
                    rx.input(
                        id="agent-category",
                        value=B.category,
                        on_change=B.set_category,
                        max_length=store.MAX_CATEGORY,
                        placeholder="For example: Offers",
                        width="100%",
                        custom_attrs={"list": "agent-categories"},
                    ),
                    rx.el.datalist(
                        rx.foreach(B.categories, lambda c: rx.el.option(value=c)), id="agent-categories"
                    ),
                ),
            ),
            class_name="agent-row agent-row-avatar",
        ),
        _field(
            "Instructions",
            "agent-instructions",
            rx.text_area(
                id="agent-instructions",
                value=B.instructions,
                on_change=B.set_instructions,
                max_length=store.MAX_INSTRUCTIONS,
                rows="12",
                resize="vertical",
                width="100%",
                placeholder="Who the agent is, what it does step by step, and how it answers.",
                class_name="agent-instructions",
            ),
            rx.text(
                B.instructions.length().to(str),
                f" / {store.MAX_INSTRUCTIONS:,} characters",
                size="1",
                color_scheme="gray",
                class_name="agent-count",
            ),
        ),
    )


def _model() -> rx.Component:
    return rx.el.fieldset(
        rx.el.legend("Model"),
        _field(
            "Model",
            "agent-model",
            _select(
                "agent-model",
                B.model,
                B.set_model,
                rx.el.option(B.default_model, value=""),
                rx.foreach(B.model_options, lambda o: rx.el.option(o["label"], value=o["value"])),
            ),
        ),
        rx.el.div(
            _field(
                "Temperature",
                "agent-temperature",
                rx.input(
                    id="agent-temperature",
                    value=B.temperature,
                    on_change=B.set_temperature,
                    type="number",
                    min="0",
                    max="2",
                    step="0.1",
                    placeholder="Default",
                    width="100%",
                ),
                "0 is steady, 2 is inventive.",
            ),
            _field(
                "Max tokens",
                "agent-max-tokens",
                rx.input(
                    id="agent-max-tokens",
                    value=B.max_tokens,
                    on_change=B.set_max_tokens,
                    type="number",
                    min="1",
                    max="128000",
                    step="1",
                    placeholder="No limit",
                    width="100%",
                ),
                "The longest reply.",
            ),
            _field(
                "Max tool steps",
                "agent-max-steps",
                rx.input(
                    id="agent-max-steps",
                    value=B.max_steps,
                    on_change=B.set_max_steps,
                    type="number",
                    min="1",
                    max=str(store.MAX_STEPS),
                    step="1",
                    width="100%",
                ),
                "Rounds of tool calls per reply.",
            ),
            class_name="agent-row agent-row-3",
        ),
    )


def _knowledge() -> rx.Component:
    files = rx.cond(
        B.file_options.length() > 0,
        rx.el.div(
            rx.foreach(
                B.file_options,
                lambda f: choice(
                    B.files.contains(f["id"]),
                    lambda on: B.toggle_file(f["id"], on),
                    f["name"],
                    rx.el.span(f["label"], class_name="agent-choice-needs"),
                ),
            ),
            class_name="agent-scroll",
            role="group",
            aria_label="Files",
        ),
        rx.text(
            "No files yet. Upload documents on the ",
            rx.link("Files", href="/files"),
            " page to give them to agents.",
            size="1",
            color_scheme="gray",
        ),
    )
    groups = rx.cond(
        B.collection_options.length() > 0,
        rx.el.div(
            rx.foreach(
                B.collection_options,
                lambda c: choice(
                    B.knowledge_collections.contains(c["id"]),
                    lambda on: B.toggle_collection(c["id"], on),
                    c["name"],
                    rx.el.span(c["count"], class_name="agent-choice-needs"),
                ),
            ),
            class_name="agent-scroll",
            role="group",
            aria_label="Collections",
        ),
    )
    return rx.el.fieldset(
        rx.el.legend("Knowledge"),
        rx.text(
            "Files and collections it searches (with the File search tool). Only ones you may read are listed.",
            size="1",
            color_scheme="gray",
        ),
        rx.text("Files", size="2", weight="medium"),
        files,
        rx.cond(B.more_files, rx.text("Your 200 newest files are listed.", size="1", color_scheme="gray")),
        rx.cond(B.collection_options.length() > 0, rx.text("Collections", size="2", weight="medium")),
        groups,
        class_name="agent-choices",
    )


def _starters() -> rx.Component:
    return rx.el.fieldset(
        rx.el.legend("Conversation starters"),
        rx.text(
            f"Suggestions members see when they open a chat with it (up to {store.MAX_STARTERS}).",
            size="1",
            color_scheme="gray",
        ),
        rx.foreach(
            B.starters,
            lambda s, i: rx.el.div(
                rx.input(
                    value=s,
                    on_change=lambda v: B.set_starter(i, v),
                    aria_label="Conversation starter " + (i + 1).to(str),
                    max_length=store.MAX_STARTER,
                    placeholder="For example: Help me price my group programme",
                    width="100%",
                ),
                rx.icon_button(
                    rx.icon("x", size=14),
                    variant="ghost",
                    color_scheme="gray",
                    type="button",
                    aria_label="Remove conversation starter " + (i + 1).to(str),
                    on_click=B.remove_starter(i),
                ),
                class_name="agent-starter",
            ),
        ),
        rx.button(
            rx.icon("plus", size=14),
            "Add a starter",
            type="button",
            variant="soft",
            color_scheme="gray",
            size="1",
            disabled=B.starters.length() >= store.MAX_STARTERS,
            on_click=B.add_starter,
            class_name="agent-add-starter",
        ),
    )


def _access() -> rx.Component:
    return rx.el.fieldset(
        rx.el.legend("Access"),
        rx.el.div(
            _field(
                "Minimum plan",
                "agent-plan",
                _select(
                    "agent-plan",
                    B.min_plan,
                    B.set_min_plan,
                    rx.el.option("Free: every member", value="free"),
                    rx.el.option("Pro", value="pro"),
                    rx.el.option("Premium", value="premium"),
                ),
                "Members on a lower plan see it but cannot chat with it.",
            ),
            rx.cond(
                B.can_share,
                _field(
                    "Visibility",
                    "agent-visibility",
                    _select(
                        "agent-visibility",
                        B.visibility,
                        B.set_visibility,
                        *[rx.el.option(text, value=key) for key, text in VISIBILITY_LABELS.items()],
                    ),
                ),
            ),
            class_name="agent-row",
        ),
    )


def _actions() -> rx.Component:
    return rx.el.div(
        error_callout(B.form_error),
        rx.el.div(
            rx.button(rx.icon("save", size=15), "Save", on_click=B.save, disabled=~B.can_edit),
            rx.cond(
                B.can_share,
                rx.button(
                    rx.icon("layout_template", size=15),
                    "Save as template",
                    variant="soft",
                    on_click=B.save_as_template,
                    title="Members start from it with “Use template” on the Agents page",
                ),
            ),
            rx.cond(
                B.notice != "",
                rx.text(
                    rx.icon("circle_check", size=14),
                    B.notice,
                    size="2",
                    role="status",
                    class_name="agent-saved",
                ),
                rx.cond(B.dirty, rx.text("Unsaved changes", size="2", color_scheme="amber")),
            ),
            rx.cond(
                (B.agent != "") & B.can_edit,
                rx.button(
                    rx.icon("trash_2", size=15),
                    "Delete",
                    variant="soft",
                    color_scheme="red",
                    on_click=B.ask_delete,
                    class_name="agent-delete",
                ),
            ),
            class_name="agent-actions-bar",
        ),
        class_name="agent-save",
    )


def _version(v: rx.Var) -> rx.Component:
    number = v["version"].to(str)
    current = v["current"] != ""
    return rx.el.li(
        rx.el.div(
            rx.text("Version ", number, weight="medium", size="2"),
            rx.cond(current, badge("Current", "green")),
            rx.text(v["when"], " ", v["by"], size="1", color_scheme="gray"),
            class_name="agent-version-text",
        ),
        rx.el.div(
            rx.cond(
                ~(current & (number == "1")),
                rx.button(
                    "Compare",
                    size="1",
                    variant="soft",
                    color_scheme="gray",
                    aria_label="Compare version " + number,
                    on_click=B.compare(number),
                ),
            ),
            rx.cond(
                ~current & B.can_edit,
                rx.button(
                    "Restore",
                    size="1",
                    variant="soft",
                    aria_label="Restore version " + number,
                    on_click=B.restore(number),
                ),
            ),
            class_name="agent-version-actions",
        ),
        class_name="agent-version",
    )


def _versions() -> rx.Component:
    return rx.cond(
        B.versions.length() > 0,
        rx.el.section(
            rx.heading("Versions", size="3", id="versions-title"),
            rx.text(
                "Every save is a version. Restore makes an old one the newest.", size="1", color_scheme="gray"
            ),
            rx.el.ul(rx.foreach(B.versions, _version), class_name="agent-versions", aria_label="Versions"),
            aria_labelledby="versions-title",
            class_name="agent-versions-section",
        ),
    )


def _compare_dialog() -> rx.Component:
    return rx.dialog.root(
        rx.dialog.content(
            rx.dialog.title(B.compare_title),
            rx.cond(
                B.changes.length() > 0,
                rx.el.div(
                    rx.foreach(
                        B.changes,
                        lambda c: rx.el.div(
                            rx.text(c["field"], weight="bold", size="2"),
                            rx.el.div(
                                rx.el.div(
                                    rx.text("Before", size="1", color_scheme="gray"),
                                    rx.el.pre(c["before"], class_name="agent-diff agent-diff-before"),
                                ),
                                rx.el.div(
                                    rx.text("After", size="1", color_scheme="gray"),
                                    rx.el.pre(c["after"], class_name="agent-diff agent-diff-after"),
                                ),
                                class_name="agent-diff-pair",
                            ),
                            class_name="agent-change",
                        ),
                    ),
                    class_name="agent-changes",
                ),
                rx.dialog.description("No field changed between these versions."),
            ),
            rx.flex(
                rx.dialog.close(rx.button("Close", variant="soft", color_scheme="gray")),
                justify="end",
                margin_top="16px",
            ),
            max_width="720px",
        ),
        open=B.compare_open,
        on_open_change=B.close_compare,
    )


def _delete_dialog() -> rx.Component:
    return confirm_dialog(
        "Delete this agent?",
        (
            "“",
            B.name,
            "” and all its versions are deleted for everyone. Chats held with it stay, as plain chats.",
        ),
        "Delete agent",
        on_confirm=B.delete,
        open=B.confirm_delete,
        on_open_change=B.close_delete,
    )


def _form() -> rx.Component:
    return rx.el.section(
        rx.cond(
            ~B.can_edit,
            rx.callout(
                "Only an owner or admin edits a shared agent. You can still try it in the test chat.",
                icon="lock",
                color_scheme="gray",
                size="1",
            ),
        ),
        rx.el.fieldset(
            _basics(),
            _model(),
            tools_fieldset(),
            _knowledge(),
            _starters(),
            _access(),
            disabled=~B.can_edit,
            class_name="agent-fields",
        ),
        _actions(),
        _versions(),
        aria_label="Agent settings",
        class_name="agent-form",
    )


def _missing() -> rx.Component:
    return rx.vstack(
        rx.callout(B.missing, icon="info", color_scheme="amber", width="100%"),
        link_button("arrow_left", "Back to Agents", "/agents", "Back to Agents", variant="soft"),
        spacing="3",
        align="start",
        width="100%",
    )


def _builder_body() -> rx.Component:
    return rx.el.div(
        rx.cond(
            B.loaded,
            rx.cond(
                B.missing != "",
                _missing(),
                rx.fragment(
                    rx.link(
                        rx.icon("arrow_left", size=14), "Agents", href="/agents", class_name="agent-back"
                    ),
                    error_callout(B.error),
                    rx.el.div(
                        _form(),
                        rx.el.aside(preview(), test_chat(), class_name="agent-side"),
                        class_name="agent-columns",
                    ),
                    _compare_dialog(),
                    _delete_dialog(),
                ),
            ),
            rx.center(rx.spinner(size="3"), padding="40px", width="100%", aria_label="Loading the agent"),
        ),
        class_name="agent-builder",
    )


def agent_builder() -> rx.Component:
    title = rx.cond(B.agent == "", "New agent", "Edit agent")
    return app_shell(title, _builder_body)  # type: ignore[arg-type]
