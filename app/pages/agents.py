"""/agents (the agents a member sees and the template gallery) and /agents/new, /agents/[aid] (the builder: the
form on the left, a preview and the live test chat on the right; stacked on a phone). The states are AgentsState
(state/agents.py), AgentBuilderState and AgentTestState (state/agent_builder.py)."""

from __future__ import annotations

import reflex as rx

from components.agent_card import agent_card, badge, plan_badge
from components.forms import error_callout, notice_callout
from components.markdown import safe_markdown
from components.shell import app_shell
from services.agents import store
from state.agent_builder import TEST_INPUT_ID, VISIBILITY_LABELS, AgentBuilderState, AgentTestState
from state.agents import AgentsState
from state.session import SessionState

B = AgentBuilderState
T = AgentTestState

INTRO = (
    "Assistants with their own instructions, tools and knowledge. Pick one to chat with, or build your own."
)


def _link_button(
    icon: str, text: str, href: rx.Var | str, label: rx.Var | str, **props: object
) -> rx.Component:
    """A link that looks like a button (it navigates, so it is a link for screen readers and tests)."""
    return rx.button(
        rx.link(rx.icon(icon, size=14), text, href=href, aria_label=label, underline="none"),
        as_child=True,
        **props,
    )


# /agents ------------------------------------------------------------------------------------------------


def _header() -> rx.Component:
    return rx.flex(
        rx.text(INTRO, size="2", color_scheme="gray", class_name="agents-intro"),
        rx.cond(AgentsState.can_create, _link_button("plus", "New agent", "/agents/new", "New agent")),
        class_name="agents-header",
    )


def _toolbar() -> rx.Component:
    return rx.flex(
        rx.input(
            value=AgentsState.query,
            on_change=AgentsState.search,  # controlled with on_change: debounced
            placeholder="Search agents",
            aria_label="Search agents",
            type="search",
            size="2",
            class_name="agents-search",
        ),
        rx.el.select(
            rx.el.option("All categories", value=""),
            rx.foreach(AgentsState.categories, lambda c: rx.el.option(c, value=c)),
            value=AgentsState.category,
            on_change=AgentsState.set_category,
            aria_label="Category",
            class_name="solo-native-select agents-select",
        ),
        role="search",
        class_name="agents-toolbar",
    )


def _agent(a: rx.Var) -> rx.Component:
    name = a["name"].to(str)
    return rx.el.li(
        agent_card(
            avatar=a["avatar"],
            name=a["name"],
            description=a["description"],
            category=a["category"],
            badges=[badge(a["badge"], a["badge_color"].to(str)), plan_badge(a["plan"])],
            actions=rx.el.div(
                _link_button("message_square", "Chat", a["chat_href"].to(str), "Chat with " + name, size="1"),
                rx.cond(
                    a["editable"] != "",
                    _link_button(
                        "pencil",
                        "Edit",
                        a["edit_href"].to(str),
                        "Edit " + name,
                        size="1",
                        variant="soft",
                        color_scheme="gray",
                    ),
                ),
                class_name="agent-actions",
            ),
        ),
    )


def _agents_grid() -> rx.Component:
    filtered = (AgentsState.query != "") | (AgentsState.category != "")
    return rx.cond(
        AgentsState.agents.length() > 0,
        rx.el.ul(rx.foreach(AgentsState.agents, _agent), class_name="agents-grid", aria_label="Agents"),
        rx.cond(
            AgentsState.loaded,
            rx.box(
                rx.cond(
                    filtered & (AgentsState.total > 0),
                    rx.vstack(
                        rx.text("No agents match this search.", weight="medium"),
                        rx.button(
                            "Show all agents", variant="soft", size="1", on_click=AgentsState.clear_filters
                        ),
                        align="center",
                        spacing="2",
                    ),
                    rx.vstack(
                        rx.icon("bot", size=28, color=rx.color("gray", 9)),
                        rx.text("No agents yet.", weight="medium"),
                        rx.text(
                            rx.cond(
                                AgentsState.can_create,
                                "Start from a template below, or build your own with “New agent”.",
                                "None is shared with you yet. Ask an owner or admin of the workspace to share one.",
                            ),
                            size="2",
                            color_scheme="gray",
                        ),
                        align="center",
                        spacing="2",
                    ),
                ),
                class_name="agents-empty",
            ),
        ),
    )


def _template(t: rx.Var) -> rx.Component:
    name = t["name"].to(str)
    hidden = t["hidden"] != ""
    return rx.el.li(
        agent_card(
            avatar=t["avatar"],
            name=t["name"],
            description=t["description"],
            category=t["category"],
            badges=[rx.cond(hidden, badge("Hidden", "gray", variant="outline"))],
            actions=rx.el.div(
                rx.cond(
                    AgentsState.can_create & ~hidden,
                    rx.button(
                        rx.icon("copy_plus", size=14),
                        "Use template",
                        size="1",
                        aria_label="Use template " + name,
                        loading=AgentsState.using == t["key"],
                        on_click=AgentsState.use_template(t["key"]),
                    ),
                ),
                rx.cond(
                    AgentsState.is_admin,
                    rx.cond(
                        hidden,
                        rx.button(
                            rx.icon("eye", size=14),
                            "Show",
                            size="1",
                            variant="soft",
                            color_scheme="gray",
                            aria_label="Show " + name,
                            on_click=AgentsState.set_template_hidden(t["key"], False),
                        ),
                        rx.button(
                            rx.icon("eye_off", size=14),
                            "Hide",
                            size="1",
                            variant="soft",
                            color_scheme="gray",
                            aria_label="Hide " + name,
                            on_click=AgentsState.set_template_hidden(t["key"], True),
                        ),
                    ),
                ),
                class_name="agent-actions",
            ),
            class_name=rx.cond(hidden, "agent-card-hidden", ""),  # type: ignore[arg-type]
        ),
    )


def _templates() -> rx.Component:
    return rx.el.section(
        rx.flex(
            rx.heading("Templates", size="4", id="templates-title"),
            rx.cond(
                AgentsState.is_admin,
                rx.el.label(
                    rx.switch(
                        checked=AgentsState.members_create,
                        on_change=AgentsState.set_members_create,
                        aria_label="Members may build agents",
                    ),
                    rx.text("Members may build agents", size="2"),
                    class_name="agents-switch",
                ),
            ),
            class_name="agents-section-head",
        ),
        rx.text(
            rx.cond(
                AgentsState.can_create,
                "Ready-made coaching agents. “Use template” makes a private copy for you to change.",
                "In this workspace only owners and admins build agents; these show what they can start from.",
            ),
            size="2",
            color_scheme="gray",
        ),
        rx.cond(
            AgentsState.templates.length() > 0,
            rx.el.ul(
                rx.foreach(AgentsState.templates, _template), class_name="agents-grid", aria_label="Templates"
            ),
            rx.cond(
                AgentsState.loaded,
                rx.box(
                    rx.text("No templates are shown in this workspace.", size="2", color_scheme="gray"),
                    class_name="agents-empty",
                ),
            ),
        ),
        aria_labelledby="templates-title",
        class_name="agents-templates",
    )


def _agents_body() -> rx.Component:
    return rx.vstack(
        _header(),
        error_callout(AgentsState.error),
        notice_callout(AgentsState.notice),
        rx.cond(
            AgentsState.loaded | (AgentsState.error != ""),
            rx.fragment(_toolbar(), _agents_grid(), _templates()),
            rx.center(rx.spinner(size="3"), padding="40px", width="100%", aria_label="Loading agents"),
        ),
        spacing="4",
        width="100%",
    )


def agents() -> rx.Component:
    return app_shell("Agents", _agents_body)


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
            _field(
                "Avatar",
                "agent-avatar",
                rx.input(
                    id="agent-avatar",
                    value=B.avatar,
                    on_change=B.set_avatar,
                    max_length=16,
                    placeholder="🤖",
                    class_name="agent-avatar-input",
                ),
            ),
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


def _choice(checked: rx.Var, on_change: object, label: rx.Var, *details: rx.Component) -> rx.Component:
    return rx.el.label(
        rx.checkbox(checked=checked, on_change=on_change, aria_label=label),  # type: ignore[arg-type]
        rx.el.span(
            rx.el.span(label, class_name="agent-choice-name"), *details, class_name="agent-choice-text"
        ),
        class_name="agent-choice",
    )


def _tools() -> rx.Component:
    return rx.el.fieldset(
        rx.el.legend("Tools"),
        rx.text("What the agent may use while it answers.", size="1", color_scheme="gray"),
        rx.foreach(
            B.tool_options,
            lambda t: _choice(
                B.tools.contains(t["name"]),
                lambda on: B.toggle_tool(t["name"], on),
                t["label"],
                rx.el.span(t["description"], class_name="agent-choice-desc"),
                rx.el.span(t["needs"], class_name="agent-choice-needs"),
            ),
        ),
        class_name="agent-choices",
    )


def _knowledge() -> rx.Component:
    files = rx.cond(
        B.file_options.length() > 0,
        rx.el.div(
            rx.foreach(
                B.file_options,
                lambda f: _choice(
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
                lambda c: _choice(
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
    return rx.alert_dialog.root(
        rx.alert_dialog.content(
            rx.alert_dialog.title("Delete this agent?"),
            rx.alert_dialog.description(
                "“",
                B.name,
                "” and all its versions are deleted for everyone. Chats held with it stay, as plain chats.",
            ),
            rx.flex(
                rx.alert_dialog.cancel(rx.button("Cancel", variant="soft", color_scheme="gray")),
                rx.alert_dialog.action(rx.button("Delete agent", color_scheme="red", on_click=B.delete)),
                justify="end",
                gap="3",
                margin_top="16px",
            ),
            max_width="460px",
        ),
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
            _tools(),
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


# The builder: preview and test chat ---------------------------------------------------------------------


def _preview() -> rx.Component:
    visibility = rx.match(B.visibility, ("featured", "Featured"), ("tenant", "Shared"), "Private")
    color = rx.match(B.visibility, ("featured", "amber"), ("tenant", "blue"), "gray")
    plan = rx.match(B.min_plan, ("pro", "Pro"), ("premium", "Premium"), "")
    return rx.el.section(
        rx.text("Preview", size="1", weight="bold", color_scheme="gray", class_name="agent-side-label"),
        agent_card(
            avatar=B.avatar,
            name=rx.cond(B.name != "", B.name, "Untitled agent"),
            description=B.description,
            category=B.category,
            badges=[badge(visibility, color), plan_badge(plan)],
            class_name="agent-preview",
            empty_description="Its description shows here.",
        ),
        aria_label="Preview",
    )


def _tool_card(p: rx.Var) -> rx.Component:
    return rx.el.details(
        rx.el.summary(
            rx.icon("wrench", size=13),
            rx.el.span(p["name"], class_name="agent-tool-name"),
            badge(p["status_label"], p["color"].to(str)),
            rx.el.span(p["time"], class_name="agent-tool-time"),
        ),
        rx.el.div(
            rx.text("Arguments", size="1", weight="bold"),
            rx.el.pre(p["arguments"], class_name="agent-tool-pre"),
            rx.cond(
                p["error"] != "",
                rx.fragment(
                    rx.text("Error", size="1", weight="bold"),
                    rx.el.pre(p["error"], class_name="agent-tool-pre agent-tool-error"),
                ),
                rx.cond(
                    p["result"] != "",
                    rx.fragment(
                        rx.text("Result", size="1", weight="bold"),
                        rx.el.pre(p["result"], class_name="agent-tool-pre"),
                    ),
                ),
            ),
            class_name="agent-tool-body",
        ),
        class_name="agent-tool",
    )


def _tool_cards(parts: rx.Var) -> rx.Component:
    return rx.cond(
        parts.length() > 0,  # type: ignore[attr-defined]
        rx.el.div(rx.foreach(parts, _tool_card), class_name="agent-tools-used"),
    )


def _bubble(m: rx.Var) -> rx.Component:
    error = m["error"].to(str)
    return rx.cond(
        m["role"] == "user",
        rx.el.div(rx.el.div(m["text"], class_name="agent-bubble"), class_name="agent-msg agent-msg-user"),
        rx.el.div(
            rx.el.div(
                _tool_cards(m["parts"].to(list[dict[str, str]])),
                rx.cond(m["text"] != "", safe_markdown(m["text"].to(str))),
                rx.cond(
                    error != "",
                    rx.text(
                        error,
                        size="1",
                        class_name=rx.cond(error == "Stopped.", "agent-note", "agent-note-error"),
                    ),
                ),
                class_name="agent-bubble",
            ),
            class_name="agent-msg agent-msg-agent",
        ),
    )


def _streaming() -> rx.Component:
    return rx.cond(
        T.running,
        rx.el.div(
            rx.el.div(
                _tool_cards(T.parts),
                rx.cond(
                    T.text != "",
                    safe_markdown(T.text),
                    rx.flex(rx.spinner(size="1"), rx.text("Thinking…", size="1"), gap="2", align="center"),
                ),
                class_name="agent-bubble",
            ),
            class_name="agent-msg agent-msg-agent",
            aria_busy="true",
        ),
    )


def _test_empty() -> rx.Component:
    return rx.cond(
        (T.messages.length() == 0) & ~T.running,
        rx.vstack(
            rx.text(
                "Ask what a member would ask, and see how the agent answers.", size="2", color_scheme="gray"
            ),
            rx.flex(
                rx.foreach(
                    B.starters,
                    lambda s: rx.cond(
                        s != "",
                        rx.button(
                            s,
                            size="1",
                            variant="outline",
                            color_scheme="gray",
                            type="button",
                            on_click=T.send({"message": s}),
                            class_name="agent-starter-chip",
                        ),
                    ),
                ),
                wrap="wrap",
                gap="2",
            ),
            spacing="2",
            class_name="agent-test-empty",
        ),
    )


def _test_chat() -> rx.Component:
    return rx.el.section(
        rx.flex(
            rx.heading("Test", size="3", id="agent-test-title"),
            rx.button(
                rx.icon("eraser", size=14),
                "Clear",
                size="1",
                variant="ghost",
                color_scheme="gray",
                on_click=T.clear,
                disabled=T.running | (T.messages.length() == 0),
            ),
            class_name="agent-test-head",
        ),
        rx.text(
            "Runs the form as it is now, without saving. Nothing is stored.", size="1", color_scheme="gray"
        ),
        rx.el.div(
            _test_empty(),
            rx.foreach(T.messages, _bubble),
            _streaming(),
            role="log",
            aria_label="Test conversation",
            aria_live="polite",
            class_name="agent-test-log",
        ),
        error_callout(T.error),
        rx.form(
            rx.input(
                id=TEST_INPUT_ID,
                name="message",
                placeholder="Write a test message",
                aria_label="Test message",
                auto_complete="off",
                max_length=8000,
                width="100%",
                size="2",
            ),
            rx.cond(
                T.running,
                rx.button(
                    rx.icon("square", size=14), "Stop", type="button", color_scheme="red", on_click=T.stop
                ),
                rx.button(rx.icon("send_horizontal", size=14), "Test", type="submit"),
            ),
            on_submit=T.send,
            reset_on_submit=False,
            class_name="agent-test-form",
        ),
        aria_labelledby="agent-test-title",
        class_name="agent-test",
    )


def _missing() -> rx.Component:
    return rx.vstack(
        rx.callout(B.missing, icon="info", color_scheme="amber", width="100%"),
        _link_button("arrow_left", "Back to Agents", "/agents", "Back to Agents", variant="soft"),
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
                        rx.el.aside(_preview(), _test_chat(), class_name="agent-side"),
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


def register(app: rx.App) -> None:
    app.add_page(
        agents, route="/agents", title="Agents", on_load=[SessionState.load_private, AgentsState.load]
    )
    builder = [SessionState.load_private, AgentTestState.load, AgentBuilderState.load]
    app.add_page(agent_builder, route="/agents/new", title="New agent", on_load=builder)
    app.add_page(agent_builder, route="/agents/[aid]", title="Agent", on_load=builder)
