"""Sign-up, log-in, password reset, email confirmation and invitation forms."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from urllib.parse import quote

import reflex as rx
from reflex_base.event import EventSpec

from services import web
from services.auth import accounts, invites, reset, verify
from services.context import TenantCtx
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
        after = web.safe_next(self.router.url.query_parameters.get("next"))
        return _go(
            f"/auth/complete?ticket={ticket}" + (f"&next={quote(after, safe='')}" if after != "/" else "")
        )

    async def _submit(
        self,
        action: Callable[[TenantCtx], Awaitable[str | EventSpec]],
        *,
        passwords: dict | None = None,
    ) -> AsyncIterator[EventSpec | None]:
        """The frame of every form here: resolve the workspace on the server, refuse mismatched passwords,
        show "busy" while `action` runs, then its notice (a str) or its navigation, or the service's error."""
        self.error, self.notice = "", ""
        tctx = await (await self.get_state(SessionState)).tenant_ctx()
        if tctx is None:
            self.error = NO_WORKSPACE
            return
        if passwords is not None and passwords.get("password", "") != passwords.get("confirm", ""):
            self.error = "The two passwords do not match."
            return
        self.busy = True
        yield None
        try:
            outcome = await action(tctx)
            if isinstance(outcome, str):
                self.notice = outcome
            else:
                yield outcome
        except ServiceError as exc:
            self.error = str(exc)
        finally:
            self.busy = False

    @rx.event
    async def log_in(self, form: dict):
        async def action(tctx: TenantCtx) -> EventSpec:
            user = await accounts.log_in(tctx, email=form.get("email", ""), password=form.get("password", ""))
            return await self._signed_in(user.id)

        async for update in self._submit(action):
            yield update

    @rx.event
    async def sign_up(self, form: dict):
        """The same answer whether or not the email already has an account (see accounts.sign_up)."""

        async def action(tctx: TenantCtx) -> str:
            email = accounts.normalise_email(form.get("email", ""))
            await accounts.sign_up(
                tctx, email=email, password=form.get("password", ""), name=form.get("name", "")
            )
            return (
                f"Almost done: we sent an email to {email}. Open the link in it to confirm your address, "
                "then log in."
            )

        async for update in self._submit(action):
            yield update

    @rx.event
    async def request_reset(self, form: dict):
        async def action(tctx: TenantCtx) -> str:
            await reset.request_reset(tctx, form.get("email", ""))
            return "If an account uses that email, a reset link is on its way. It works for one hour."

        async for update in self._submit(action):
            yield update

    @rx.event
    async def reset_password(self, form: dict):
        token = request.path_tail(self, "/reset/")

        async def action(tctx: TenantCtx) -> str:
            await reset.reset_password(tctx, token, form.get("password", ""))
            return "Your password is changed. Log in with it now."

        async for update in self._submit(action, passwords=form):
            yield update

    @rx.event
    async def confirm_email(self):
        token = request.path_tail(self, "/verify/")

        async def action(tctx: TenantCtx) -> str:
            email = await verify.confirm_email(tctx, token)
            (await self.get_state(SessionState)).email_verified = True
            return f"Thank you: {email} is confirmed."

        async for update in self._submit(action):
            yield update

    @rx.event
    async def accept_invite(self, form: dict):
        token = request.path_tail(self, "/invite/")

        async def action(tctx: TenantCtx) -> EventSpec:
            user = await invites.accept_invitation(
                tctx, token, name=form.get("name", ""), password=form.get("password", "")
            )
            return await self._signed_in(user.id)

        async for update in self._submit(action, passwords=form):
            yield update


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
