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


def confirm_dialog(
    title: rx.Var | str | tuple[rx.Var | str, ...],
    description: rx.Var | str | tuple[rx.Var | str, ...],
    action: rx.Var | str,
    *,
    on_confirm: object,
    open: rx.Var | bool,
    on_open_change: object,
    max_width: str = "460px",
) -> rx.Component:
    """A destructive action asked once more: Cancel (also Escape, a click outside) or the red action button.
    A title or description given as a tuple is text and vars side by side ("Delete “", name, "”?")."""
    titles = title if isinstance(title, tuple) else (title,)
    descriptions = description if isinstance(description, tuple) else (description,)
    return rx.alert_dialog.root(
        rx.alert_dialog.content(
            rx.alert_dialog.title(*titles),
            rx.alert_dialog.description(*descriptions),
            rx.hstack(
                rx.alert_dialog.cancel(rx.button("Cancel", variant="soft", color_scheme="gray")),
                rx.alert_dialog.action(rx.button(action, color_scheme="red", on_click=on_confirm)),
                justify="end",
                spacing="3",
                margin_top="16px",
            ),
            max_width=max_width,
        ),
        open=open,
        on_open_change=on_open_change,
    )
