"""The branded app shell: top bar (tenant logo, name, accent), sidebar navigation, user menu."""

from __future__ import annotations

from collections.abc import Callable

import reflex as rx

from state.auth_forms import VerifyBannerState
from state.session import SessionState


def brand_mark(size: str = "32px") -> rx.Component:
    return rx.cond(
        SessionState.tenant_logo != "",
        rx.image(src=SessionState.tenant_logo, alt="", width=size, height=size, border_radius="8px"),
        rx.center(
            rx.text(SessionState.tenant_name.to(str)[:1].upper(), weight="bold", color="white"),  # type: ignore[index]
            width=size,
            height=size,
            border_radius="8px",
            background=rx.color("accent", 9),
            aria_hidden="true",
        ),
    )


def branded(content: rx.Component) -> rx.Component:
    """Apply the tenant's accent colour to everything inside."""
    return rx.theme(content, accent_color=SessionState.accent, has_background=True)  # type: ignore[arg-type]


def no_workspace() -> rx.Component:
    return rx.center(
        rx.card(
            rx.vstack(
                rx.heading("No such workspace", size="6"),
                rx.text(
                    "Nothing is hosted at this address. Check the link you followed, or ask the person who "
                    "invited you for the right address.",
                    color_scheme="gray",
                ),
                spacing="3",
            ),
            max_width="440px",
            size="4",
        ),
        min_height="100vh",
        padding="16px",
    )


def loading() -> rx.Component:
    return rx.center(rx.spinner(size="3"), min_height="60vh", aria_label="Loading")


def user_menu() -> rx.Component:
    return rx.menu.root(
        rx.menu.trigger(
            rx.button(
                rx.avatar(fallback=SessionState.user_name.to(str)[:1].upper(), size="1", radius="full"),  # type: ignore[index]
                rx.text(SessionState.user_name, display=["none", "none", "inline"]),
                rx.icon("chevron_down", size=14),
                variant="ghost",
                aria_label="Account",
            )
        ),
        rx.menu.content(
            rx.box(rx.text(SessionState.user_email, size="1", color_scheme="gray"), padding="4px 12px"),
            rx.menu.separator(),
            rx.menu.item(rx.icon("settings", size=14), "Settings", on_select=rx.redirect("/settings")),
            rx.menu.item(
                rx.color_mode_cond(light=rx.icon("moon", size=14), dark=rx.icon("sun", size=14)),
                rx.color_mode_cond(light="Dark mode", dark="Light mode"),
                on_select=rx.toggle_color_mode,  # named by its visible text: "Dark mode" or "Light mode"
            ),
            rx.menu.separator(),
            rx.menu.item(rx.icon("log_out", size=14), "Log out", on_select=SessionState.log_out, color="red"),
            align="end",
        ),
    )


def nav_link(label: str, href: str, icon: str) -> rx.Component:
    return rx.link(
        rx.hstack(rx.icon(icon, size=16), rx.text(label, size="2"), spacing="2", align="center"),
        href=href,
        underline="none",
        color_scheme="gray",
        high_contrast=True,
        padding="8px 10px",
        border_radius="6px",
        width="100%",
        _hover={"background": rx.color("accent", 3)},
    )


def nav_items(*, chat: bool = True) -> rx.Component:
    """The workspace's pages; admin pages only for those who may use them (the server checks again)."""
    return rx.vstack(
        nav_link("Chat", "/", "message_square") if chat else rx.fragment(),
        nav_link("Agents", "/agents", "bot"),
        nav_link("Files", "/files", "folder"),
        nav_link("Memory", "/memory", "brain"),
        nav_link("Plans", "/plans", "gem"),
        nav_link("Settings", "/settings", "settings"),
        rx.cond(SessionState.can_manage_members, nav_link("Members", "/members", "users")),
        rx.cond(SessionState.can_manage_members, nav_link("Models", "/admin/models", "cpu")),
        rx.cond(SessionState.can_manage_members, nav_link("Tools", "/admin/tools", "wrench")),
        spacing="1",
        width="100%",
    )


TOP_BAR_HEIGHT = "58px"


def top_bar(drawer: rx.Component | None = None) -> rx.Component:
    """The top bar; on phones its menu button opens `drawer` (the navigation by default)."""
    return rx.hstack(
        rx.hstack(
            rx.drawer.root(
                rx.drawer.trigger(
                    rx.icon_button(
                        rx.icon("menu"),
                        variant="ghost",
                        aria_label="Menu",
                        display=["inline-flex", "inline-flex", "none"],
                    ),
                ),
                rx.drawer.overlay(),
                rx.drawer.portal(
                    # The portal leaves the page's themed tree: the tenant's accent again.
                    branded(
                        rx.drawer.content(
                            rx.vstack(
                                rx.drawer.close(
                                    rx.icon_button(rx.icon("x"), variant="ghost", aria_label="Close")
                                ),
                                drawer if drawer is not None else nav_items(),
                                padding="16px",
                                width="100%",
                                height="100%",
                                overflow_y="auto",
                                class_name="solo-drawer",  # a sidebar inside fills it; only its list scrolls
                            ),
                            background=rx.color("gray", 1),
                            height="100%",
                            width="300px",
                            max_width="85vw",
                        )
                    )
                ),
                direction="left",
            ),
            rx.link(
                rx.hstack(
                    brand_mark(),
                    rx.heading(
                        SessionState.tenant_name, size="4", id="tenant-name", class_name="solo-ellipsis"
                    ),
                    align="center",
                    spacing="2",
                    min_width="0",
                ),
                href="/",
                underline="none",
                color="inherit",
                min_width="0",
            ),
            align="center",
            spacing="2",
            min_width="0",
        ),
        user_menu(),
        justify="between",
        align="center",
        # Exactly TOP_BAR_HEIGHT: full-height pages (the chat) subtract it from the window's height.
        height=TOP_BAR_HEIGHT,
        flex_shrink="0",
        padding="0 16px",
        border_bottom=f"3px solid {rx.color('accent', 9)}",
        background=rx.color("gray", 1),
        width="100%",
        position="sticky",
        top="0",
        z_index="10",
    )


def sidebar() -> rx.Component:
    return rx.box(
        nav_items(),
        width="220px",
        min_width="220px",
        padding="16px 12px",
        border_right=f"1px solid {rx.color('gray', 5)}",
        display=["none", "none", "block"],
        min_height="calc(100vh - 60px)",
    )


BANNER_HEIGHT = "40px"


def verify_banner() -> rx.Component:
    """Shown to a signed-in user whose email is not confirmed yet."""
    return rx.cond(
        SessionState.email_verified,
        rx.fragment(),
        rx.callout.root(
            rx.callout.icon(rx.icon("mail")),
            rx.callout.text(
                # On a phone the short form, so that the button stays in view.
                rx.el.span("Confirm your email. ", display=["inline", "none"]),
                rx.el.span(
                    "Confirm your email: we sent a link to ",
                    rx.text.strong(SessionState.user_email),
                    ". ",
                    display=["none", "inline"],
                ),
                rx.button(
                    "Email me the link again",  # not "…send…": pages have their own Send buttons
                    variant="ghost",
                    size="1",
                    on_click=VerifyBannerState.resend,
                ),
                " ",
                VerifyBannerState.sent,
                VerifyBannerState.error,
            ),
            color_scheme="amber",
            size="1",
            width="100%",
            border_radius="0",
            id="verify-banner",
            # Fixed height: full-height pages (the chat) subtract it through --solo-banner-h.
            height=BANNER_HEIGHT,
            overflow="hidden",
            white_space="nowrap",
        ),
    )


def skip_link() -> rx.Component:
    """The first Tab stop of a signed-in page, visible only when focused: to the message box where the page
    has one, else to its main content (assets/solo.js moves the focus; the text follows the page)."""
    return rx.el.a(
        rx.el.span("Skip to message box", class_name="solo-skip-message"),
        rx.el.span("Skip to main content", class_name="solo-skip-main"),
        href="#main-content",
        class_name="solo-skip-link",
        custom_attrs={"data-skip-link": "1"},
        style={
            "position": "absolute",
            "left": "8px",
            "top": "-200px",
            "z_index": "1000",
            "padding": "8px 14px",
            "border_radius": "6px",
            "background": rx.color("accent", 9),
            "color": "white",
            "font_weight": "500",
            "text_decoration": "none",
            "&:focus": {
                "top": "8px",
                "outline": f"2px solid {rx.color('accent', 12)}",
                "outline_offset": "2px",
            },
            "body:has(#message-input) & .solo-skip-main, body:not(:has(#message-input)) & .solo-skip-message": {
                "display": "none"
            },
        },
    )


def signed_in(*children: rx.Component) -> rx.Component:
    """The frame of every signed-in page (on_load must include SessionState.load_private): the tenant's
    branding, "no such workspace" for unknown hosts, a spinner until the server has said who is asking.
    When a handler finds the tab's session gone (ended elsewhere), assets/chat.js keeps any draft and opens
    /login, coming back to this page after signing in."""
    return branded(
        rx.fragment(
            rx.cond(SessionState.ended, rx.el.span(id="session-ended", hidden=True)),
            rx.cond(
                SessionState.tenant_found,
                rx.cond(
                    SessionState.ready & SessionState.signed_in,
                    rx.vstack(
                        skip_link(),
                        verify_banner(),
                        *children,
                        spacing="0",
                        width="100%",
                        min_height="100vh",
                        style={"--solo-banner-h": rx.cond(SessionState.email_verified, "0px", BANNER_HEIGHT)},
                    ),
                    loading(),
                ),
                no_workspace(),
            ),
        )
    )


def app_shell(title: str, body: Callable[[], rx.Component]) -> rx.Component:
    """A signed-in page with the navigation sidebar and a heading."""
    return signed_in(
        top_bar(),
        rx.hstack(
            sidebar(),
            rx.box(
                rx.heading(title, size="6", margin_bottom="16px"),
                body(),
                id="main-content",  # where the skip link leads
                role="main",
                tab_index=-1,
                outline="none",
                padding=["16px", "24px"],
                width="100%",
                max_width="960px",
            ),
            align="stretch",
            spacing="0",
            width="100%",
            flex="1",
        ),
    )


def color_mode_button() -> rx.Component:
    """Switches light and dark; named by what it shows ("Dark mode" or "Light mode")."""
    return rx.button(
        rx.color_mode_cond(light=rx.icon("moon", size=14), dark=rx.icon("sun", size=14)),
        rx.color_mode_cond(light="Dark mode", dark="Light mode"),
        variant="ghost",
        color_scheme="gray",
        size="1",
        on_click=rx.toggle_color_mode,
    )


def auth_card(title: str, *children: rx.Component) -> rx.Component:
    """A centred, branded card for the sign-in pages; on_load must be SessionState.load_public."""
    return branded(
        rx.cond(
            SessionState.tenant_found,
            rx.center(
                rx.vstack(
                    rx.hstack(
                        brand_mark("40px"),
                        rx.heading(SessionState.tenant_name, size="6", id="tenant-name"),
                        align="center",
                        spacing="3",
                    ),
                    rx.card(
                        rx.vstack(rx.heading(title, size="5"), *children, spacing="4", width="100%"),
                        size="4",
                        width="100%",
                    ),
                    color_mode_button(),
                    spacing="5",
                    align="center",
                    width="100%",
                    max_width="420px",
                ),
                min_height="100vh",
                padding="16px",
                border_top=f"4px solid {rx.color('accent', 9)}",
            ),
            no_workspace(),
        )
    )
