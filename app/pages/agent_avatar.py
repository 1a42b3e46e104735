"""The agent builder's avatar: an emoji typed in, or an uploaded image (assets/avatar.js uploads it to
/api/agents/avatar and reports back through a hidden button; AgentBuilderState.avatar_uploaded takes it)."""

from __future__ import annotations

import reflex as rx

from services.agents import avatars
from state.agent_builder import AgentBuilderState

B = AgentBuilderState


def avatar_picker() -> rx.Component:
    """An emoji typed in, or an uploaded image (assets/avatar.js sends it, the hidden button reports back)."""
    return rx.el.div(
        rx.cond(
            B.avatar_url != "",
            rx.image(
                src=B.avatar_url, alt="The agent's avatar", class_name="agent-avatar-img agent-avatar-chosen"
            ),
            rx.input(
                id="agent-avatar",
                value=B.avatar,
                on_change=B.set_avatar,
                max_length=16,
                placeholder="🤖",
                class_name="agent-avatar-input",
            ),
        ),
        rx.el.input(
            type="file",
            id="agent-avatar-file",
            accept="image/png,image/jpeg,image/webp,image/gif",
            aria_label="Upload an avatar image",
            custom_attrs={"data-max-bytes": str(avatars.MAX_UPLOAD_BYTES)},
            class_name="solo-visually-hidden",
            tab_index=-1,
        ),
        rx.cond(
            B.avatar_url != "",
            rx.icon_button(
                rx.icon("x", size=14),
                type="button",
                size="1",
                variant="ghost",
                color_scheme="gray",
                aria_label="Remove the avatar image",
                on_click=B.remove_avatar_image,
            ),
            rx.icon_button(
                rx.cond(B.avatar_uploading, rx.spinner(size="1"), rx.icon("image-up", size=14)),
                type="button",
                size="1",
                variant="soft",
                aria_label="Upload an image",
                title="Upload an image (PNG, JPEG, WebP or GIF)",
                on_click=rx.call_script("document.getElementById('agent-avatar-file').click()"),
            ),
        ),
        rx.el.button(
            id="agent-avatar-sync",
            type="button",
            hidden=True,
            tab_index=-1,
            aria_hidden="true",
            on_click=rx.call_script("window.soloAvatar.take()", callback=B.avatar_uploaded),
        ),
        class_name="agent-avatar-pick",
    )


def avatar_problem() -> rx.Component:
    return rx.cond(
        B.avatar_error != "",
        rx.text(B.avatar_error, size="1", color_scheme="red", role="alert"),
        rx.fragment(),
    )
