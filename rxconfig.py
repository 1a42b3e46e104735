"""Reflex configuration, read from the same settings as the rest of the app.

Production runs frontend and backend on one port. The API URL names `localhost`, which Reflex's frontend
replaces with the page's own host name: each tenant's domain talks to the backend on its own origin, so the
Host header (which picks the tenant) and the session cookie both arrive with the websocket.
"""

import os

import reflex as rx

PORT = int(os.environ.get("PORT", "3000"))
# One worker keeps client state in memory (the database is the source of truth; Reflex's default "disk" mode
# pickles state to files on every update, which costs more than the streaming itself). With REDIS_URL,
# several workers share state through Redis.
REDIS_URL = os.environ.get("REDIS_URL", "")

config = rx.Config(
    app_name="app",
    frontend_port=PORT,
    backend_port=PORT,
    api_url=os.environ.get("SOLO_API_URL", f"http://localhost:{PORT}"),
    deploy_url=os.environ.get("SOLO_PUBLIC_URL", f"http://localhost:{PORT}"),
    show_built_with_reflex=False,
    # No cross-origin HTTP access at all (pages talk to their own origin); the websocket's origin check is
    # done per connection in app/app.py, since tenants' hosts are only known at run time.
    cors_allowed_origins=[],
    state_manager_mode=rx.constants.StateManagerMode.REDIS
    if REDIS_URL
    else rx.constants.StateManagerMode.MEMORY,
    redis_url=REDIS_URL or None,
    telemetry_enabled=False,
    plugins=[
        rx.plugins.RadixThemesPlugin(
            theme=rx.theme(appearance="inherit", accent_color="indigo", radius="medium", has_background=True)
        )
    ],
    disable_plugins=[rx.plugins.SitemapPlugin],
)
