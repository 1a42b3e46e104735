"""The Reflex app: pages, theme, and the HTTP routes mounted beside it."""

from __future__ import annotations

import logging
import warnings

import reflex as rx

from app.api.routes import build_api
from app.pages import admin_models, auth, chat, members, not_found, settings

warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR")
logging.getLogger("solo").setLevel(logging.INFO)

app = rx.App(
    stylesheets=["/solo.css"],
    head_components=[rx.script(src="/solo.js")],
    api_transformer=build_api(),
)

for module in (auth, chat, settings, members, admin_models, not_found):
    module.register(app)
