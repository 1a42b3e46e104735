"""The Reflex app: pages, theme, and the HTTP routes mounted beside it."""

from __future__ import annotations

import contextlib
import logging
import warnings
from collections.abc import AsyncIterator

import reflex as rx

from app.api.routes import build_api
from app.pages import (
    admin_models,
    admin_tools,
    agents,
    auth,
    chat,
    files,
    members,
    memory,
    not_found,
    plans,
    settings,
)
from services import web
from services.config import get_settings
from services.db import check_app_role
from services.jobs.worker import background_worker
from state.session import RebindOnConnect

warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR")
logging.getLogger("solo").setLevel(logging.INFO)

app = rx.App(
    stylesheets=[
        f"/{name}.css"
        for name in ("solo", "sidebar", "markdown", "chat", "files", "memory", "agents", "admin_tools")
    ],
    head_components=[
        rx.script(src=f"/{name}.js") for name in ("solo", "sidebar", "chat", "attach", "files", "avatar")
    ],
    api_transformer=build_api(),
)

# Reflex allows any origin on its websocket by default: a page on another site could open a socket to a
# tenant (with the visitor's cookies) and drive the app. Only pages of the host itself may connect.
if app.sio is not None:
    app.sio.eio.cors_allowed_origins = web.websocket_origin_allowed

app.add_middleware(RebindOnConnect())


@contextlib.asynccontextmanager
async def _refuse_unsafe_database_role() -> AsyncIterator[None]:
    """Runs before the server accepts requests: a failure here stops the start."""
    await check_app_role()
    yield


app.register_lifespan_task(_refuse_unsafe_database_role)


@contextlib.asynccontextmanager
async def _job_worker() -> AsyncIterator[None]:
    """The app process runs a job worker too (SOLO_WORKER=0 turns it off; `solo worker` runs more)."""
    config = get_settings()
    if not config.solo_worker:
        yield
        return
    async with background_worker(config.worker_concurrency):
        yield


app.register_lifespan_task(_job_worker)

for module in (
    auth,
    chat,
    agents,
    files,
    memory,
    plans,
    settings,
    members,
    admin_models,
    admin_tools,
    not_found,
):
    module.register(app)
