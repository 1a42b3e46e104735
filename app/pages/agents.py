"""/agents (the agents a member sees and the template gallery) and /agents/new, /agents/[aid] (the builder: the
form on the left, a preview and the live test chat on the right; stacked on a phone). The states are AgentsState
(state/agents.py), AgentBuilderState (state/agent_builder.py) and AgentTestState (state/agent_test.py)."""

from __future__ import annotations

import reflex as rx

from components.agent_card import agent_card, badge, plan_badge
from components.forms import confirm_dialog, error_callout, notice_callout
from components.shell import app_shell
from state.agent_builder import AgentBuilderState
from state.agent_test import AgentTestState
from state.agents import AgentsState
from state.session import SessionState

B = AgentBuilderState
T = AgentTestState

INTRO = (
    "Assistants with their own instructions, tools and knowledge. Pick one to chat with, or build your own."
)


def link_button(
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
        rx.cond(AgentsState.can_create, link_button("plus", "New agent", "/agents/new", "New agent")),
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
            avatar_url=a["avatar_url"],
            name=a["name"],
            description=a["description"],
            category=a["category"],
            badges=[badge(a["badge"], a["badge_color"].to(str)), plan_badge(a["plan"])],
            actions=rx.el.div(
                link_button("message_square", "Chat", a["chat_href"].to(str), "Chat with " + name, size="1"),
                rx.cond(
                    a["editable"] != "",
                    link_button(
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
            avatar_url=t["avatar_url"],
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
                rx.cond(
                    AgentsState.is_admin & (t["own"] != ""),
                    rx.icon_button(
                        rx.icon("trash_2", size=14),
                        size="1",
                        variant="soft",
                        color_scheme="red",
                        aria_label="Delete template " + name,
                        on_click=AgentsState.ask_delete_template(t["key"]),
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
        confirm_dialog(
            ("Delete the template “", AgentsState.deleting_name, "”?"),
            "Members no longer see it in the gallery. Agents made from it stay as they are.",
            "Delete template",
            on_confirm=AgentsState.delete_template,
            open=AgentsState.deleting != "",
            on_open_change=AgentsState.close_delete_template,
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


def register(app: rx.App) -> None:
    from app.pages.agent_builder import agent_builder

    app.add_page(
        agents, route="/agents", title="Agents", on_load=[SessionState.load_private, AgentsState.load]
    )
    builder = [SessionState.load_private, AgentTestState.load, AgentBuilderState.load]
    app.add_page(agent_builder, route="/agents/new", title="New agent", on_load=builder)
    app.add_page(agent_builder, route="/agents/[aid]", title="Agent", on_load=builder)
