"""The builder's tool picker: every tool the workspace offers (what it does, the connection it needs), and for
each chosen one its settings, folded under "Settings" (state/agent_tool_fields.py builds the rows)."""

from __future__ import annotations

import reflex as rx

from state.agent_builder import AgentBuilderState

B = AgentBuilderState


def choice(checked: rx.Var, on_change: object, label: rx.Var, *details: rx.Component) -> rx.Component:
    """A ticked option with its name and details (tools, files, collections)."""
    return rx.el.label(
        rx.checkbox(checked=checked, on_change=on_change, aria_label=label),  # type: ignore[arg-type]
        rx.el.span(
            rx.el.span(label, class_name="agent-choice-name"), *details, class_name="agent-choice-text"
        ),
        class_name="agent-choice",
    )


def _default_option(row: rx.Var) -> rx.Component:
    return rx.el.option(row["default"], value="")


def _control(row: rx.Var) -> rx.Component:
    common = {"id": row["id"], "value": row["value"]}
    change = lambda v: B.set_tool_field(row["id"], v)  # noqa: E731
    return rx.match(
        row["kind"],
        (
            "long",
            rx.text_area(
                **common,
                on_change=change,
                rows="2",
                max_length=500,
                width="100%",
            ),
        ),
        (
            "bool",
            rx.el.select(
                _default_option(row),
                rx.el.option("Yes", value="true"),
                rx.el.option("No", value="false"),
                **common,
                on_change=change,
                class_name="solo-native-select agent-select",
            ),
        ),
        (
            "choice",
            rx.el.select(
                _default_option(row),
                rx.foreach(row["options"].to(str).split("|"), lambda o: rx.el.option(o, value=o)),
                **common,
                on_change=change,
                class_name="solo-native-select agent-select",
            ),
        ),
        (
            "number",
            rx.input(
                **common,
                on_change=change,
                type="number",
                placeholder=row["default"],
                width="100%",
            ),
        ),
        rx.input(**common, on_change=change, placeholder=row["default"], width="100%"),
    )


def _setting(row: rx.Var) -> rx.Component:
    return rx.el.div(
        rx.el.label(row["label"], html_for=row["id"], class_name="solo-label"),
        _control(row),
        rx.cond(row["help"] != "", rx.text(row["help"], size="1", color_scheme="gray")),
        class_name="agent-field",
    )


def _settings(tool: rx.Var) -> rx.Component:
    return rx.el.details(
        rx.el.summary("Settings", class_name="agent-tool-settings-summary"),
        rx.foreach(B.tool_fields, lambda row: rx.cond(row["tool"] == tool["name"], _setting(row))),
        class_name="agent-tool-settings",
        aria_label="Settings of " + tool["label"].to(str),
    )


def tools_fieldset() -> rx.Component:
    return rx.el.fieldset(
        rx.el.legend("Tools"),
        rx.text("What the agent may use while it answers.", size="1", color_scheme="gray"),
        rx.foreach(
            B.tool_options,
            lambda t: rx.el.div(
                choice(
                    B.tools.contains(t["name"]),
                    lambda on: B.toggle_tool(t["name"], on),
                    t["label"],
                    rx.el.span(t["description"], class_name="agent-choice-desc"),
                    rx.el.span(t["needs"], class_name="agent-choice-needs"),
                ),
                rx.cond(B.tools.contains(t["name"]), _settings(t)),
            ),
        ),
        class_name="agent-choices",
    )
