"""Sign-up, log-in and password reset forms."""

from __future__ import annotations

import uuid

import reflex as rx
from reflex_base.event import EventSpec

from services.auth import accounts, reset
from services.errors import AuthError, ServiceError
from state import request
from state.session import SessionState

NO_WORKSPACE = "There is no workspace at this address. Check the link you followed."
LOGIN_COOKIE_MISSING = (
    "Your browser did not keep the sign-in cookie. Reload the page, allow cookies, and log in again."
)


def _go(url: str) -> EventSpec:
    """A full page load (not client-side routing), so the new HttpOnly cookie rides the next websocket."""
    return rx.call_script(f"window.location.replace({url!r})")


class AuthFormState(rx.State):
    error: str = ""
    notice: str = ""
    busy: bool = False

    @rx.event
    def clear(self):
        """on_load: reset the form; show an error passed back by /auth/complete."""
        self.error = self.router.url.query_parameters.get("error", "")[:300]
        self.notice = ""
        self.busy = False

    async def _signed_in(self, user_id: uuid.UUID) -> EventSpec:
        session = await self.get_state(SessionState)
        tctx = await session.tenant_ctx()
        assert tctx is not None
        binding = request.login_binding(self)
        if not binding:
            raise AuthError(LOGIN_COOKIE_MISSING)
        ticket = await accounts.issue_login_ticket(tctx, user_id, binding=binding)
        return _go(f"/auth/complete?ticket={ticket}")

    @rx.event
    async def log_in(self, form: dict):
        self.error, self.notice = "", ""
        session = await self.get_state(SessionState)
        tctx = await session.tenant_ctx()
        if tctx is None:
            self.error = NO_WORKSPACE
            return
        self.busy = True
        yield
        try:
            user = await accounts.log_in(tctx, email=form.get("email", ""), password=form.get("password", ""))
            yield await self._signed_in(user.id)
        except ServiceError as exc:
            self.error = str(exc)
        finally:
            self.busy = False

    @rx.event
    async def sign_up(self, form: dict):
        self.error, self.notice = "", ""
        session = await self.get_state(SessionState)
        tctx = await session.tenant_ctx()
        if tctx is None:
            self.error = NO_WORKSPACE
            return
        self.busy = True
        yield
        try:
            user = await accounts.sign_up(
                tctx,
                email=form.get("email", ""),
                password=form.get("password", ""),
                name=form.get("name", ""),
            )
            yield await self._signed_in(user.id)
        except ServiceError as exc:
            self.error = str(exc)
        finally:
            self.busy = False

    @rx.event
    async def request_reset(self, form: dict):
        self.error, self.notice = "", ""
        session = await self.get_state(SessionState)
        tctx = await session.tenant_ctx()
        if tctx is None:
            self.error = NO_WORKSPACE
            return
        self.busy = True
        yield
        try:
            await reset.request_reset(tctx, form.get("email", ""))
            self.notice = "If an account uses that email, a reset link is on its way. It works for one hour."
        except ServiceError as exc:
            self.error = str(exc)
        finally:
            self.busy = False

    @rx.event
    async def reset_password(self, form: dict):
        self.error, self.notice = "", ""
        session = await self.get_state(SessionState)
        tctx = await session.tenant_ctx()
        if tctx is None:
            self.error = NO_WORKSPACE
            return
        token = request.path_tail(self, "/reset/")
        if form.get("password", "") != form.get("confirm", ""):
            self.error = "The two passwords do not match."
            return
        self.busy = True
        yield
        try:
            await reset.reset_password(tctx, token, form.get("password", ""))
            self.notice = "Your password is changed. Log in with it now."
        except ServiceError as exc:
            self.error = str(exc)
        finally:
            self.busy = False
