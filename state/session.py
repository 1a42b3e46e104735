"""Who is asking, resolved on the server for every event: tenant from the Host header, user from the
HttpOnly session cookie. Public vars hold only what the page shows; ids and roles stay backend-only."""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import quote

import reflex as rx
from reflex.middleware.middleware import Middleware

from services import tenants, web
from services.auth import accounts, oauth, roles
from services.context import Ctx, TenantCtx
from state import request

log = logging.getLogger("solo.session")

# Log-out is a same-origin POST (a GET link could be triggered by any site): build a form and submit it.
LOG_OUT_SCRIPT = (
    "(() => { window.soloChat && window.soloChat.clearDrafts(); const f = document.createElement('form'); f.method = 'POST'; f.action = '/auth/logout'; "
    "f.style.display = 'none'; document.body.appendChild(f); f.submit(); })()"
)


def login_url(state: rx.State) -> str:
    """/login, coming back to the page the user was on once signed in."""
    here = web.safe_next(state.router.url.path)
    return "/login" if here == "/" else f"/login?next={quote(here, safe='')}"


class SessionState(rx.State):
    # Branding (public, shown on every page).
    ready: bool = False
    tenant_found: bool = True
    tenant_name: str = ""
    tenant_logo: str = ""
    accent: str = "indigo"
    oauth_providers: list[dict[str, str]] = []
    # The signed-in user, for display only.
    signed_in: bool = False
    user_name: str = ""
    user_email: str = ""
    user_role: str = ""
    can_manage_members: bool = False
    email_verified: bool = True  # False shows the "confirm your email" banner
    ended: bool = False  # the session this tab was signed in with ended elsewhere: the page goes to /login
    # Who this browser tab's state belongs to ("tenant:user"), checked on every (re)connect and page load.
    _bound_to: str = ""

    def bound_to(self, ctx: Ctx) -> bool:
        return self._bound_to == f"{ctx.tenant_id}:{ctx.user_id}"

    async def bind_user(self, ctx: Ctx | None) -> bool:
        """Reset every user-bound state when the user behind this client token changes (log-out, another
        sign-in, a session that ended elsewhere). Returns True when it reset."""
        who = f"{ctx.tenant_id}:{ctx.user_id}" if ctx is not None else ""
        if who == self._bound_to:
            return False
        await reset_user_states(self)
        self._bound_to = who
        return True

    async def tenant_ctx(self) -> TenantCtx | None:
        found = await tenants.lookup_host(request.host(self))
        if found is None:
            return None
        return TenantCtx(tenant_id=found.id, ip=request.client_ip(self), user_agent=request.user_agent(self))

    async def current_user(self) -> Ctx | None:
        """The signed-in user, checked against the database on every call (no trust in state)."""
        tctx = await self.tenant_ctx()
        if tctx is None:
            return None
        return await accounts.authenticate(tctx.tenant_id, request.session_token(self), ip=tctx.ip)

    async def _load_brand(self) -> TenantCtx | None:
        found = await tenants.lookup_host(request.host(self))
        self.tenant_found = found is not None
        if found is None:
            self.tenant_name = ""
            return None
        self.tenant_name = found.display_name
        self.tenant_logo = found.logo_url
        self.accent = found.accent_color
        self.oauth_providers = [
            {"id": p.id, "label": p.label, "href": f"/auth/oauth/{p.id}/start"}
            for p in oauth.configured_providers()
        ]
        return TenantCtx(tenant_id=found.id, ip=request.client_ip(self), user_agent=request.user_agent(self))

    async def _load_user(self, tctx: TenantCtx) -> Ctx | None:
        ctx = await accounts.authenticate(tctx.tenant_id, request.session_token(self), ip=tctx.ip)
        await self.bind_user(ctx)
        self.signed_in = ctx is not None
        if ctx is None:
            self.user_name = self.user_email = self.user_role = ""
            self.can_manage_members = False
            self.email_verified = True
            return None
        me = await accounts.get_me(ctx)
        self.user_name, self.user_email, self.user_role = me.name, me.email, me.role
        self.email_verified = me.email_verified
        self.can_manage_members = roles.has(ctx, "members.view")
        return ctx

    @rx.event
    async def load_public(self):
        """on_load of the sign-in pages: brand them; send signed-in users to the workspace."""
        tctx = await self._load_brand()
        if tctx is not None and await self._load_user(tctx) is not None:
            self.ready = True
            return rx.redirect(web.safe_next(self.router.url.query_parameters.get("next")))
        self.ready = True

    @rx.event
    async def load_brand(self):
        """on_load of pages anybody may see (404): brand them, nothing else."""
        await self._load_brand()
        self.ready = True

    @rx.event
    async def load_private(self):
        """on_load of workspace pages: brand them; send everybody else to the login page."""
        self.ready = False
        tctx = await self._load_brand()
        if tctx is None:
            self.ready = True
            return
        self.ended = False
        if await self._load_user(tctx) is None:
            return rx.redirect(login_url(self))
        self.ready = True

    @rx.event
    async def log_out(self):
        ctx = await self.current_user()
        if ctx is not None:
            await accounts.log_out(ctx)
        await self.bind_user(None)
        self.signed_in = False
        return rx.call_script(LOG_OUT_SCRIPT)


def user_bound_states() -> list[type[rx.State]]:
    """Every state of this app except SessionState (which rebinds itself): all of them hold data of the
    signed-in user. New states are covered without registering them anywhere."""
    found: list[type[rx.State]] = []
    pending = list(rx.State.get_substates())
    while pending:
        cls = pending.pop()
        pending.extend(cls.get_substates())
        if cls.__module__.split(".")[0] == "state" and cls is not SessionState:
            found.append(cls)  # type: ignore[arg-type]
    return found


async def reset_user_states(state: rx.State) -> None:
    for cls in user_bound_states():
        (await state.get_state(cls)).reset()
    session = await state.get_state(SessionState)
    session.signed_in = False
    session.user_name = session.user_email = session.user_role = ""
    session.can_manage_members = False
    session.email_verified = True


class RebindOnConnect(Middleware):
    """Reflex sends the whole state to the browser when its websocket (re)connects, before any on_load
    runs. Check who the session cookie belongs to first, so a tab that changed hands never receives the
    previous user's data."""

    async def preprocess(self, app: Any, state: Any, event: Any) -> None:
        if not str(getattr(event, "name", "")).endswith(("hydrate", "hydrate_and_load")):
            return None
        session = await state.get_state(SessionState)
        try:
            ctx = await session.current_user()
        except Exception:  # the database is down: show nobody's data
            log.warning("rebind on connect: could not authenticate", exc_info=True)
            ctx = None
        await session.bind_user(ctx)
        return None


async def require_user(state: rx.State, permission: str = "workspace.use") -> Ctx:
    """For any handler: the signed-in user with `permission`, or an exception (handled by the caller)."""
    session = await state.get_state(SessionState)
    ctx = await session.current_user()
    if ctx is None:
        from services.errors import AuthError

        if session._bound_to:  # signed in until now: clear the tab's data and send the page to /login
            await session.bind_user(None)
            session.ended = True
        raise AuthError("Your session has ended. Log in again.")
    roles.require(ctx, permission)
    return ctx
