"""/login, /signup, /forgot, /reset/[token], /verify/[token], /invite/[token]."""

from __future__ import annotations

import reflex as rx

from components.forms import error_callout, field, notice_callout
from components.shell import auth_card
from state.auth_forms import AuthFormState
from state.session import SessionState


def oauth_buttons() -> rx.Component:
    return rx.cond(
        SessionState.oauth_providers.length() > 0,  # type: ignore[attr-defined]
        rx.vstack(
            rx.hstack(
                rx.separator(size="4"),
                rx.text("or", size="1", color_scheme="gray"),
                rx.separator(size="4"),
                align="center",
                width="100%",
            ),
            rx.foreach(
                SessionState.oauth_providers,
                # A document navigation: the start route is the server's, not a page (links route in the browser).
                lambda p: rx.button(
                    rx.el.a("Continue with ", p["label"], href=p["href"], reload_document=True),
                    as_child=True,
                    variant="outline",
                    width="100%",
                    size="3",
                ),
            ),
            width="100%",
            spacing="2",
        ),
    )


def submit_button(label: str) -> rx.Component:
    return rx.button(label, type="submit", size="3", width="100%", loading=AuthFormState.busy)


def login() -> rx.Component:
    return auth_card(
        "Log in",
        rx.form(
            rx.vstack(
                error_callout(AuthFormState.error),
                field("Email", "email", type="email", autocomplete="email"),
                field("Password", "password", type="password", autocomplete="current-password"),
                submit_button("Log in"),
                spacing="3",
                width="100%",
            ),
            on_submit=AuthFormState.log_in,
            width="100%",
        ),
        oauth_buttons(),
        rx.hstack(
            rx.link("Forgot password?", href="/forgot", size="2"),
            rx.link("Create an account", href="/signup", size="2"),
            justify="between",
            width="100%",
        ),
    )


def signup() -> rx.Component:
    return auth_card(
        "Create your account",
        rx.form(
            rx.vstack(
                error_callout(AuthFormState.error),
                notice_callout(AuthFormState.notice),
                field("Name", "name", autocomplete="name", required=False),
                field("Email", "email", type="email", autocomplete="email"),
                field(
                    "Password",
                    "password",
                    type="password",
                    autocomplete="new-password",
                    placeholder="At least 10 characters",
                ),
                submit_button("Sign up"),
                spacing="3",
                width="100%",
            ),
            on_submit=AuthFormState.sign_up,
            width="100%",
        ),
        oauth_buttons(),
        rx.text("Already have an account? ", rx.link("Log in", href="/login"), size="2"),
    )


def forgot() -> rx.Component:
    return auth_card(
        "Reset your password",
        rx.form(
            rx.vstack(
                error_callout(AuthFormState.error),
                notice_callout(AuthFormState.notice),
                rx.text("We will email you a link to choose a new password.", size="2", color_scheme="gray"),
                field("Email", "email", type="email", autocomplete="email"),
                submit_button("Send reset link"),
                spacing="3",
                width="100%",
            ),
            on_submit=AuthFormState.request_reset,
            width="100%",
        ),
        rx.link("Back to log in", href="/login", size="2"),
    )


def reset_password() -> rx.Component:
    return auth_card(
        "Choose a new password",
        rx.form(
            rx.vstack(
                error_callout(AuthFormState.error),
                notice_callout(AuthFormState.notice),
                field("New password", "password", type="password", autocomplete="new-password"),
                field("Repeat new password", "confirm", type="password", autocomplete="new-password"),
                submit_button("Set password"),
                spacing="3",
                width="100%",
            ),
            on_submit=AuthFormState.reset_password,
            width="100%",
        ),
        rx.link("Back to log in", href="/login", size="2"),
    )


def verify_email() -> rx.Component:
    return auth_card(
        "Confirm your email",
        error_callout(AuthFormState.error),
        notice_callout(AuthFormState.notice),
        rx.text("Confirm that this email address is yours.", size="2", color_scheme="gray"),
        rx.button(
            "Confirm my email",
            on_click=AuthFormState.confirm_email,
            size="3",
            width="100%",
            loading=AuthFormState.busy,
        ),
        rx.hstack(
            rx.link("Log in", href="/login", size="2"),
            rx.link("Open the workspace", href="/", size="2"),
            justify="between",
            width="100%",
        ),
    )


def accept_invite() -> rx.Component:
    return auth_card(
        "Join the workspace",
        rx.form(
            rx.vstack(
                error_callout(AuthFormState.error),
                rx.text(
                    "Choose your name and a password to accept the invitation.", size="2", color_scheme="gray"
                ),
                field("Name", "name", autocomplete="name", required=False),
                field(
                    "Password",
                    "password",
                    type="password",
                    autocomplete="new-password",
                    placeholder="At least 10 characters",
                ),
                field("Repeat password", "confirm", type="password", autocomplete="new-password"),
                submit_button("Accept invitation"),
                spacing="3",
                width="100%",
            ),
            on_submit=AuthFormState.accept_invite,
            width="100%",
        ),
    )


def register(app: rx.App) -> None:
    on_load = [AuthFormState.clear, SessionState.load_public]
    app.add_page(login, route="/login", title="Log in", on_load=on_load)
    app.add_page(signup, route="/signup", title="Sign up", on_load=on_load)
    app.add_page(forgot, route="/forgot", title="Reset password", on_load=on_load)
    app.add_page(reset_password, route="/reset/[token]", title="New password", on_load=on_load)
    # Not load_public: a signed-in user may confirm their email or accept an invitation without being sent off.
    brand_only = [AuthFormState.clear, SessionState.load_brand]
    app.add_page(verify_email, route="/verify/[token]", title="Confirm email", on_load=brand_only)
    app.add_page(accept_invite, route="/invite/[token]", title="Join", on_load=brand_only)
