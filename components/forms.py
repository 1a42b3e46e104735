from __future__ import annotations

import reflex as rx


def field(
    label: str,
    name: str,
    *,
    type: str = "text",
    autocomplete: str = "",
    placeholder: str = "",
    default_value: str | rx.Var = "",
    required: bool = True,
) -> rx.Component:
    """A labelled input; the <label for> gives it its accessible name."""
    field_id = f"field-{name}"
    return rx.vstack(
        rx.el.label(label, html_for=field_id, class_name="solo-label"),
        rx.input(
            id=field_id,
            name=name,
            type=type,
            auto_complete=autocomplete or None,
            placeholder=placeholder,
            default_value=default_value,
            required=required,
            size="3",
            width="100%",
        ),
        spacing="1",
        width="100%",
        align="stretch",
    )


def error_callout(message: rx.Var) -> rx.Component:
    return rx.cond(
        message != "",
        rx.callout(message, icon="triangle_alert", color_scheme="red", role="alert", width="100%"),
    )


def notice_callout(message: rx.Var) -> rx.Component:
    return rx.cond(
        message != "",
        rx.callout(message, icon="circle_check", color_scheme="green", role="status", width="100%"),
    )
