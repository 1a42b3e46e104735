"""/members: owners and admins manage the people in their workspace."""

from __future__ import annotations

import reflex as rx

from app.pages.members_joining import joining_section
from components.forms import confirm_dialog, error_callout, notice_callout
from components.shell import app_shell
from models import ROLES
from state.joining import JoiningState
from state.members import MembersState
from state.session import SessionState


def _row(m: rx.Var) -> rx.Component:
    # Three columns, so that a phone shows the whole row: who (and since when), role, status and action.
    return rx.table.row(
        rx.table.cell(
            rx.vstack(
                rx.text(m["name"], weight="medium"),
                rx.text(m["email"], size="1", color_scheme="gray", style={"word_break": "break-all"}),
                rx.text("joined ", m["joined"], size="1", color_scheme="gray"),
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
        rx.cond(
            MembersState.plan_options.length() > 0,
            rx.table.cell(
                rx.select.root(
                    rx.select.trigger(aria_label="Plan of " + m["email"].to(str)),
                    rx.select.content(
                        rx.foreach(
                            MembersState.plan_options, lambda o: rx.select.item(o["label"], value=o["value"])
                        )
                    ),
                    value=m["plan"].to(str),
                    on_change=lambda plan: MembersState.set_plan(m["id"], plan),
                    size="1",
                )
            ),
        ),
        rx.table.cell(
            rx.flex(
                rx.badge(m["status"], color_scheme=rx.cond(m["status"] == "active", "green", "red")),
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
                            aria_label="Suspend " + m["email"].to(str),
                            on_click=MembersState.ask_suspend(m["id"]),
                        ),
                        rx.button(
                            "Restore",
                            size="1",
                            variant="soft",
                            aria_label="Restore " + m["email"].to(str),
                            on_click=MembersState.restore(m["id"]),
                        ),
                    ),
                ),
                gap="2",
                align="start",
                direction=rx.breakpoints(initial="column", sm="row"),
            ),
        ),
        align="center",
    )


def _search() -> rx.Component:
    # A controlled rx.input with on_change is a DebounceInput: the search runs 300 ms after typing stops.
    return rx.input(
        value=MembersState.query,
        on_change=MembersState.search,
        placeholder="Search by name or email",
        aria_label="Search members",
        type="search",
        size="2",
        width="100%",
        max_width="360px",
    )


def _confirm_dialog() -> rx.Component:
    return confirm_dialog(
        MembersState.confirm_title,
        MembersState.confirm_text,
        MembersState.confirm_button,
        on_confirm=MembersState.confirm,
        open=MembersState.confirm_open,
        on_open_change=MembersState.confirm_changed,
        max_width="480px",
    )


def _body() -> rx.Component:
    return rx.vstack(
        error_callout(MembersState.error),
        notice_callout(MembersState.notice),
        rx.cond(
            MembersState.allowed,
            rx.vstack(
                _search(),
                rx.cond(
                    MembersState.members.length() > 0,
                    rx.box(
                        rx.table.root(
                            rx.table.header(
                                rx.table.row(
                                    rx.table.column_header_cell("Member"),
                                    rx.table.column_header_cell("Role"),
                                    rx.cond(
                                        MembersState.plan_options.length() > 0,
                                        rx.table.column_header_cell("Plan"),
                                    ),
                                    rx.table.column_header_cell("Status"),
                                )
                            ),
                            rx.table.body(rx.foreach(MembersState.members, _row)),
                            width="100%",
                        ),
                        overflow_x="auto",
                        width="100%",
                    ),
                ),
                rx.cond(
                    (MembersState.members.length() == 0) & (MembersState.query != ""),
                    rx.text("No members match “", MembersState.query, "”.", size="2", color_scheme="gray"),
                ),
                rx.cond(
                    MembersState.has_more,
                    rx.button("Load more", variant="soft", size="2", on_click=MembersState.load_more),
                ),
                _confirm_dialog(),
                spacing="3",
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
