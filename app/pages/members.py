"""/members: owners and admins manage the people in their workspace."""

from __future__ import annotations

import reflex as rx

from app.pages.members_joining import joining_section
from components.forms import error_callout, notice_callout
from components.shell import app_shell
from models import ROLES
from state.joining import JoiningState
from state.members import MembersState
from state.session import SessionState


def _row(m: rx.Var) -> rx.Component:
    return rx.table.row(
        rx.table.cell(
            rx.vstack(
                rx.text(m["name"], weight="medium"),
                rx.text(m["email"], size="1", color_scheme="gray"),
                spacing="0",
            )
        ),
        rx.table.cell(
            rx.select.root(
                rx.select.trigger(aria_label="Role of " + m["email"].to(str)),
                rx.select.content(*[rx.select.item(role, value=role) for role in ROLES]),
                value=m["role"].to(str),
                on_change=lambda role: MembersState.set_role(m["id"], role),
                disabled=m["is_me"] != "",
                size="1",
            )
        ),
        rx.table.cell(
            rx.badge(m["status"], color_scheme=rx.cond(m["status"] == "active", "green", "red")),
        ),
        rx.table.cell(m["joined"]),
        rx.table.cell(
            rx.cond(
                m["is_me"] != "",
                rx.text("you", size="1", color_scheme="gray"),
                rx.cond(
                    m["status"] == "active",
                    rx.button(
                        "Suspend",
                        size="1",
                        color_scheme="red",
                        variant="soft",
                        on_click=MembersState.set_status(m["id"], "suspended"),
                    ),
                    rx.button(
                        "Restore",
                        size="1",
                        variant="soft",
                        on_click=MembersState.set_status(m["id"], "active"),
                    ),
                ),
            )
        ),
    )


def _body() -> rx.Component:
    return rx.vstack(
        error_callout(MembersState.error),
        notice_callout(MembersState.notice),
        rx.cond(
            MembersState.allowed,
            rx.box(
                rx.table.root(
                    rx.table.header(
                        rx.table.row(
                            *[
                                rx.table.column_header_cell(h)
                                for h in ("Member", "Role", "Status", "Joined", "")
                            ]
                        )
                    ),
                    rx.table.body(rx.foreach(MembersState.members, _row)),
                    width="100%",
                ),
                overflow_x="auto",
                width="100%",
            ),
        ),
        joining_section(),
        spacing="3",
        width="100%",
    )


def members() -> rx.Component:
    return app_shell("Members", _body)


def register(app: rx.App) -> None:
    app.add_page(
        members,
        route="/members",
        title="Members",
        on_load=[SessionState.load_private, MembersState.load, JoiningState.load],
    )
