"""The card of an agent or a template, as the Agents page's grid shows it and the builder previews it. Plain
values in (vars or strings), no state: the page decides which actions a member gets. Styled by assets/agents.css."""

from __future__ import annotations

import reflex as rx


def badge(text: rx.Var | str, color: rx.Var | str, *, variant: str = "soft") -> rx.Component:
    return rx.badge(text, color_scheme=color, variant=variant, size="1")  # type: ignore[arg-type]


def plan_badge(plan: rx.Var) -> rx.Component:
    """The plan an agent needs, when it is not the free one ("" shows nothing)."""
    return rx.cond(
        plan != "",
        rx.badge(rx.icon("gem", size=11), plan, color_scheme="violet", variant="surface", size="1"),
    )


def avatar_image(avatar: rx.Var, url: rx.Var, *, icon_size: int = 22) -> rx.Component:
    """An agent's avatar: its uploaded image, else its emoji, else the bot icon."""
    return rx.cond(
        url != "",
        rx.image(src=url, alt="", class_name="agent-avatar-img", loading="lazy"),
        rx.cond(avatar != "", avatar, rx.icon("bot", size=icon_size)),
    )


def agent_card(
    *,
    avatar: rx.Var,
    avatar_url: rx.Var | str = "",
    name: rx.Var,
    description: rx.Var,
    category: rx.Var,
    badges: list[rx.Component] | None = None,
    actions: rx.Component | None = None,
    class_name: str = "",
    empty_description: str = "",
) -> rx.Component:
    """An article named by the agent (so a page or a test finds it by name), with its avatar, name, badges,
    description, category and a row of actions."""
    return rx.el.article(
        rx.el.div(
            rx.el.span(
                avatar_image(avatar, rx.Var.create(avatar_url)),
                class_name="agent-avatar",
                aria_hidden="true",
            ),
            rx.el.div(
                rx.el.h3(name, class_name="agent-name"),
                rx.el.div(*(badges or []), class_name="agent-badges"),
                class_name="agent-title",
            ),
            class_name="agent-card-head",
        ),
        rx.cond(
            description != "",
            rx.el.p(description, class_name="agent-description"),
            rx.el.p(empty_description, class_name="agent-description agent-muted")
            if empty_description
            else rx.fragment(),
        ),
        rx.el.div(
            rx.cond(
                category != "",
                rx.el.span(rx.icon("tag", size=12), category, class_name="agent-category"),
                rx.el.span(),
            ),
            actions if actions is not None else rx.fragment(),
            class_name="agent-card-foot",
        ),
        aria_label=name,
        class_name=f"agent-card {class_name}".strip(),
    )
