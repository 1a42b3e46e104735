"""Sign-up, log-in, password reset, email confirmation and invitation forms."""

from __future__ import annotations

import uuid

import reflex as rx
from reflex_base.event import EventSpec

from services.auth import accounts, invites, reset, verify
from services.errors import AuthError, ServiceError
from state import request
from state.session import SessionState, require_user

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
        """The same answer whether or not the email already has an account (see accounts.sign_up)."""
        self.error, self.notice = "", ""
        session = await self.get_state(SessionState)
        tctx = await session.tenant_ctx()
        if tctx is None:
            self.error = NO_WORKSPACE
            return
        self.busy = True
        yield
        try:
            email = accounts.normalise_email(form.get("email", ""))
            await accounts.sign_up(
                tctx,
                email=email,
                password=form.get("password", ""),
                name=form.get("name", ""),
            )
            self.notice = (
                f"Almost done: we sent an email to {email}. Open the link in it to confirm your address, "
                "then log in."
            )
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

    @rx.event
    async def confirm_email(self):
        self.error, self.notice = "", ""
        session = await self.get_state(SessionState)
        tctx = await session.tenant_ctx()
        if tctx is None:
            self.error = NO_WORKSPACE
            return
        self.busy = True
        yield
        try:
            email = await verify.confirm_email(tctx, request.path_tail(self, "/verify/"))
            self.notice = f"Thank you: {email} is confirmed."
            session.email_verified = True
        except ServiceError as exc:
            self.error = str(exc)
        finally:
            self.busy = False

    @rx.event
    async def accept_invite(self, form: dict):
        self.error, self.notice = "", ""
        session = await self.get_state(SessionState)
        tctx = await session.tenant_ctx()
        if tctx is None:
            self.error = NO_WORKSPACE
            return
        if form.get("password", "") != form.get("confirm", ""):
            self.error = "The two passwords do not match."
            return
        self.busy = True
        yield
        try:
            user = await invites.accept_invitation(
                tctx,
                request.path_tail(self, "/invite/"),
                name=form.get("name", ""),
                password=form.get("password", ""),
            )
            yield await self._signed_in(user.id)
        except ServiceError as exc:
            self.error = str(exc)
        finally:
            self.busy = False


class VerifyBannerState(rx.State):
    """The "confirm your email" banner of the signed-in shell: its Resend button."""

    sent: str = ""
    error: str = ""

    @rx.event
    async def resend(self):
        self.sent = self.error = ""
        try:
            ctx = await require_user(self, "settings.own")
            email = await verify.resend_verification(ctx)
            self.sent = f"Sent again to {email}."
        except ServiceError as exc:
            self.error = str(exc)
