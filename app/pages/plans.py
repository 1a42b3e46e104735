"""/plans: the workspace's plans, the member's own (marked), and how much of it they have used this month."""

from __future__ import annotations

import reflex as rx

from components.forms import error_callout
from components.shell import app_shell
from state.plans import PlansState
from state.session import SessionState

P = PlansState


def _meter(m: rx.Var) -> rx.Component:
    return rx.el.div(
        rx.flex(
            rx.text(m["label"], size="2", weight="medium"),
            rx.text(m["text"], size="2", color_scheme=rx.cond(m["near"], "amber", "gray")),
            justify="between",
            gap="3",
        ),
        rx.cond(
            m["limited"],
            rx.progress(
                value=m["percent"].to(int), color_scheme=rx.cond(m["near"], "amber", "green"), size="1"
            ),
        ),
        class_name="plans-meter",
    )


def _plan(p: rx.Var) -> rx.Component:
    current = p["current"].to(bool)
    return rx.el.li(
        rx.el.article(
            rx.flex(
                rx.heading(p["name"], size="4", as_="h3"),
                rx.cond(current, rx.badge("Your plan", color_scheme="green", variant="soft")),
                align="center",
                gap="3",
                wrap="wrap",
            ),
            rx.cond(p["description"] != "", rx.text(p["description"], size="2", color_scheme="gray")),
            rx.cond(
                (p["month"] != "") | (p["year"] != ""),
                rx.flex(
                    rx.cond(p["month"] != "", rx.text(p["month"], size="3", weight="bold")),
                    rx.cond(p["year"] != "", rx.text("or ", p["year"], size="2", color_scheme="gray")),
                    gap="2",
                    align="baseline",
                    wrap="wrap",
                ),
            ),
            rx.el.ul(
                rx.foreach(p["limits"].to(list[str]), lambda line: rx.el.li(rx.text(line, size="2"))),
                class_name="plans-limits",
            ),
            aria_label=p["name"],
            class_name=rx.cond(current, "plans-card plans-current", "plans-card"),
        )
    )


def _body() -> rx.Component:
    return rx.vstack(
        error_callout(P.error),
        rx.cond(
            P.loaded,
            rx.vstack(
                rx.el.section(
                    rx.text(
                        "You are on the ",
                        rx.text.strong(P.current),
                        " plan. Its monthly quotas renew on ",
                        P.renews,
                        ".",
                        size="2",
                    ),
                    rx.foreach(P.meters, _meter),
                    aria_label="Your usage",
                    class_name="plans-usage",
                ),
                rx.el.ul(rx.foreach(P.plans, _plan), aria_label="Plans", class_name="plans-grid"),
                rx.text(
                    "To change plans, ask an owner or admin of this workspace.",
                    size="1",
                    color_scheme="gray",
                ),
                spacing="4",
                width="100%",
            ),
        ),
        spacing="3",
        width="100%",
        max_width="960px",
    )


def plans() -> rx.Component:
    return app_shell("Plans", _body)


def register(app: rx.App) -> None:
    app.add_page(plans, route="/plans", title="Plans", on_load=[SessionState.load_private, PlansState.load])
