"""Email verification, and sign-up / reset answers that do not tell who has an account (real SMTP on loopback)."""

from __future__ import annotations

import asyncio
import re
import statistics
import time

import pytest
from aiosmtpd.smtp import SMTP, Envelope, Session

from services import tenants
from services.auth import verify
from services.auth.accounts import authenticate, get_me, log_in, sign_up, start_session
from services.auth.reset import request_reset
from services.config import get_settings
from services.context import Ctx, TenantCtx
from services.db import tenant_session
from services.email import drain
from services.errors import AuthError, RateLimited
from tests.conftest import join
from tests.services.test_reset import Inbox, inbox  # noqa: F401 - `inbox` is a fixture

PASSWORD = "correct horse battery"


async def ctx_of(tctx: TenantCtx, user_id) -> Ctx:  # type: ignore[no-untyped-def]
    async with tenant_session(tctx.tenant_id) as session:
        token, _ = await start_session(session, tctx, user_id)
    ctx = await authenticate(tctx.tenant_id, token)
    assert ctx is not None
    return ctx


def body_of(box: Inbox, index: int = -1) -> str:
    body = box.messages[index][1].get_body(("plain",))
    assert body is not None
    return str(body.get_content())


def verify_token(box: Inbox, origin: str) -> str:
    match = re.search(re.escape(origin) + r"/verify/([A-Za-z0-9_-]{20,})\s", body_of(box))
    assert match, body_of(box)
    return match.group(1)


# Verification ---------------------------------------------------------------------------------------------


async def test_sign_up_emails_a_link_that_verifies_once(tenant, tctx, owner, other_tenant, inbox) -> None:  # noqa: F811
    user = await join(tctx, email="ann@example.com", password=PASSWORD)
    ctx = await ctx_of(tctx, user.id)
    assert not (await get_me(ctx)).email_verified  # unverified accounts can use the app (with a banner)
    await drain()
    assert inbox.messages[-1][1]["To"] == "ann@example.com"
    token = verify_token(inbox, tenants.public_origin(tenant))

    with pytest.raises(AuthError):  # another tenant cannot use it
        await verify.confirm_email(TenantCtx(other_tenant.id), token)
    assert await verify.confirm_email(tctx, token) == "ann@example.com"
    assert (await get_me(ctx)).email_verified
    with pytest.raises(AuthError, match="invalid, used or expired"):
        await verify.confirm_email(tctx, token)


async def test_resend_is_rate_limited(tenant, tctx, owner, inbox, monkeypatch) -> None:  # noqa: F811
    monkeypatch.setenv("VERIFY_RESEND_MAX", "2")
    get_settings.cache_clear()
    user = await join(tctx, email="ann@example.com", password=PASSWORD)
    ctx = await ctx_of(tctx, user.id)
    await drain()
    assert await verify.resend_verification(ctx) == "ann@example.com"
    assert await verify.resend_verification(ctx) == "ann@example.com"
    with pytest.raises(RateLimited, match="Too many confirmation email attempts"):
        await verify.resend_verification(ctx)
    await drain()
    assert [m["To"] for _, m in inbox.messages] == ["ann@example.com"] * 3
    # Any of the links works.
    await verify.confirm_email(tctx, verify_token(inbox, tenants.public_origin(tenant)))
    assert (await get_me(ctx)).email_verified


# No enumeration -------------------------------------------------------------------------------------------


async def test_taken_email_sign_up_answers_alike_and_tells_its_owner(tenant, tctx, owner, inbox) -> None:  # noqa: F811
    existing = await join(tctx, email="ann@example.com", password=PASSWORD, name="Ann")
    await drain()
    inbox.messages.clear()

    assert await sign_up(tctx, email="ANN@example.com", password="an attacker's password") is None  # no error
    await drain()
    (_, message), *rest = inbox.messages
    assert rest == [] and message["To"] == "ann@example.com"
    assert "already have" in message["Subject"]
    origin = tenants.public_origin(tenant)
    assert f"{origin}/login" in body_of(inbox) and f"{origin}/forgot" in body_of(inbox)
    # Nothing about the account changed: the old password works, the attacker's does not.
    assert (await log_in(tctx, email="ann@example.com", password=PASSWORD)).id == existing.id
    with pytest.raises(AuthError):
        await log_in(tctx, email="ann@example.com", password="an attacker's password")


async def test_sign_up_takes_as_long_for_a_taken_email(tctx, owner, monkeypatch) -> None:
    monkeypatch.setenv("LOGIN_MAX_FAILURES", "1000")
    get_settings.cache_clear()
    await join(tctx, email="taken@example.com", password=PASSWORD)

    async def timed(email: str) -> float:
        start = time.perf_counter()
        await sign_up(tctx, email=email, password=PASSWORD)
        return time.perf_counter() - start

    await timed("warm-up@example.com")
    new: list[float] = []
    taken: list[float] = []
    for i in range(5):
        new.append(await timed(f"new{i}@example.com"))
        taken.append(await timed("taken@example.com"))
    await drain()
    ratio = statistics.median(taken) / statistics.median(new)
    assert 0.5 < ratio < 2.0, (new, taken)
    assert statistics.median(taken) > 0.005  # it really hashed the password


class SlowInbox(Inbox):
    """Takes its time to accept each message, like a slow mail server."""

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        await asyncio.sleep(1.0)
        return await super().handle_DATA(server, session, envelope)


async def test_reset_request_returns_before_any_email_work(tctx, owner, inbox) -> None:  # noqa: F811
    """Whether the account exists or not, the request returns before the mail server has the message, and
    takes no longer (the lookup and the email happen off the request path)."""
    inbox.__class__ = SlowInbox
    timings: dict[str, list[float]] = {"owner@example.com": [], "nobody@example.com": []}
    for _ in range(3):
        for email, times in timings.items():
            start = time.perf_counter()
            await request_reset(tctx, email)
            times.append(time.perf_counter() - start)
            assert inbox.messages == []  # the slow server has not got anything yet
    assert max(timings["owner@example.com"]) < 0.5, timings
    ratio = statistics.median(timings["owner@example.com"]) / statistics.median(timings["nobody@example.com"])
    assert 0.33 < ratio < 3.0, timings
    start = time.perf_counter()
    await drain()
    assert time.perf_counter() - start > 0.5  # the server really was slow: the requests did not wait for it
    assert [m["To"] for _, m in inbox.messages] == ["owner@example.com"] * 3
