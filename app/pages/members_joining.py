"""The "Who may join" section of /members: sign-up mode and invitations."""

from __future__ import annotations

import reflex as rx

from components.forms import error_callout, field, notice_callout
from models import ROLES
from state.joining import JoiningState

MODES = [
    ("open", "Anybody with the link may sign up"),
    ("domains", "Only addresses at these domains"),
    ("invite", "Invitation only"),
]


def joining_section() -> rx.Component:
    return rx.cond(
        JoiningState.allowed,
        rx.card(
            rx.vstack(
                rx.heading("Who may join", size="4"),
                error_callout(JoiningState.error),
                notice_callout(JoiningState.notice),
                rx.form(
                    rx.vstack(
                        rx.radio_group.root(
                            *[
                                rx.radio_group.item(label, value=value, aria_label=label)
                                for value, label in MODES
                            ],
                            name="mode",
                            value=JoiningState.mode,
                            on_change=JoiningState.choose_mode,
                            direction="column",
                        ),
                        rx.cond(
                            JoiningState.mode == "domains",
                            field(
                                "Email domains",
                                "domains",
                                placeholder="example.com, example.org",
                                default_value=JoiningState.domains,
                            ),
                        ),
                        rx.button("Save", type="submit", size="2"),
                        spacing="3",
                        width="100%",
                    ),
                    on_submit=JoiningState.save_policy,
                    width="100%",
                ),
                rx.separator(size="4"),
                rx.form(
                    rx.hstack(
                        rx.box(field("Invite by email", "email", type="email"), flex="1"),
                        rx.select(
                            list(ROLES), name="role", default_value="member", aria_label="Role", size="3"
                        ),
                        rx.button("Invite", type="submit", size="3"),
                        align="end",
                        spacing="2",
                        width="100%",
                    ),
                    on_submit=JoiningState.invite,
                    reset_on_submit=True,
                    width="100%",
                ),
                spacing="3",
                width="100%",
            ),
            width="100%",
        ),
    )
