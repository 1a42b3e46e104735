"""Password reset end to end, over real SMTP to an aiosmtpd server on loopback."""

from __future__ import annotations

import re
import socket
from collections.abc import Iterator
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default as default_policy

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from sqlalchemy import text

from services.auth.accounts import authenticate, log_in, start_session
from services.auth.members import set_status
from services.auth.reset import request_reset, reset_password
from services.config import get_settings
from services.context import TenantCtx
from services.db import tenant_session
from services.email import drain
from services.errors import AuthError, RateLimited, ValidationError
from tests.conftest import first_owner, join

PASSWORD = "correct horse battery"
NEW_PASSWORD = "a whole new password"


class Inbox:
    """An aiosmtpd handler that keeps every message it accepts."""

    def __init__(self) -> None:
        self.messages: list[tuple[Envelope, EmailMessage]] = []

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        content = envelope.original_content or envelope.content
        assert isinstance(content, bytes)
        message = message_from_bytes(content, policy=default_policy)
        assert isinstance(message, EmailMessage)
        self.messages.append((envelope, message))
        return "250 Message accepted for delivery"


async def requested(tctx: TenantCtx, email: str) -> None:
    """Ask for a reset and wait for the email work, which runs off the request path."""
    await request_reset(tctx, email)
    await drain()


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def inbox(monkeypatch: pytest.MonkeyPatch) -> Iterator[Inbox]:
    handler = Inbox()
    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    monkeypatch.setenv("SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("SMTP_PORT", str(controller.port))
    monkeypatch.setenv("SMTP_STARTTLS", "false")
    monkeypatch.setenv("SMTP_FROM", "Acme <no-reply@acme.test>")
    get_settings.cache_clear()  # the tenant fixtures may already have read (and cached) the settings
    try:
        yield handler
    finally:
        controller.stop()


def reset_token(message: EmailMessage, origin: str) -> str:
    """The token of the reset link in `message`, which must point at `origin` (the tenant's own address)."""
    body = message.get_body(("plain",))
    assert body is not None
    content = body.get_content()
    match = re.search(re.escape(origin) + r"/reset/([A-Za-z0-9_-]{20,})\s", content)
    assert match, content
    return match.group(1)


async def test_reset_end_to_end(tenant, tctx, inbox: Inbox) -> None:
    user = await first_owner(tctx, email="ann@example.com", password=PASSWORD, name="Ann")
    async with tenant_session(tctx.tenant_id) as session:
        old_token, _ = await start_session(session, tctx, user.id)

    await requested(tctx, "ANN@example.com")

    assert len(inbox.messages) == 1
    envelope, message = inbox.messages[0]
    assert envelope.rcpt_tos == ["ann@example.com"]
    assert message["To"] == "ann@example.com"
    assert message["From"] == "Acme <no-reply@acme.test>"
    assert message["Subject"] == "Reset your Test Tenant password"
    token = reset_token(message, f"http://{tenant.slug}.localhost:3000")
    text_body = message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "Hello Ann" in text_body and "60 minutes" in text_body
    assert f"http://{tenant.slug}.localhost:3000/reset/{token}" in text_body

    # The token is stored hashed, never as sent.
    async with tenant_session(tctx.tenant_id) as session:
        stored = (await session.execute(text("SELECT token_hash FROM one_time_tokens"))).scalars().all()
    assert len(stored) == 1 and token not in stored[0]

    with pytest.raises(ValidationError):
        await reset_password(tctx, token, "short")
    await reset_password(tctx, token, NEW_PASSWORD)

    with pytest.raises(AuthError, match="Wrong email or password"):
        await log_in(tctx, email="ann@example.com", password=PASSWORD)
    assert (await log_in(tctx, email="ann@example.com", password=NEW_PASSWORD)).id == user.id
    assert await authenticate(tctx.tenant_id, old_token) is None  # sessions from before the reset ended

    with pytest.raises(AuthError, match="invalid or has expired"):
        await reset_password(tctx, token, "yet another password")
    assert (await log_in(tctx, email="ann@example.com", password=NEW_PASSWORD)).id == user.id


async def test_unknown_or_suspended_email_sends_nothing(tctx, inbox: Inbox) -> None:
    owner = await first_owner(tctx, email="boss@example.com", password=PASSWORD)
    bob = await join(tctx, email="bob@example.com", password=PASSWORD)
    async with tenant_session(tctx.tenant_id) as session:
        token, _ = await start_session(session, tctx, owner.id)
    owner_ctx = await authenticate(tctx.tenant_id, token)
    assert owner_ctx is not None
    await set_status(owner_ctx, bob.id, "suspended")
    await drain()
    inbox.messages.clear()  # bob's sign-up confirmation

    await requested(tctx, "nobody@example.com")
    await requested(tctx, "bob@example.com")
    assert inbox.messages == []
    async with tenant_session(tctx.tenant_id) as session:
        count = text("SELECT count(*) FROM one_time_tokens WHERE purpose = 'reset'")
        assert (await session.execute(count)).scalar_one() == 0

    with pytest.raises(ValidationError):
        await requested(tctx, "not an email")

    # The server is really listening: a known, active address does get a message.
    await requested(tctx, "boss@example.com")
    assert [m["To"] for _, m in inbox.messages] == ["boss@example.com"]


async def test_expired_or_foreign_token_is_refused(tenant, tctx, other_tenant, inbox: Inbox) -> None:
    await first_owner(tctx, email="ann@example.com", password=PASSWORD)
    await requested(tctx, "ann@example.com")
    token = reset_token(inbox.messages[-1][1], f"http://{tenant.slug}.localhost:3000")

    # Another tenant cannot use it (it cannot even see the row).
    with pytest.raises(AuthError):
        await reset_password(TenantCtx(tenant_id=other_tenant.id), token, NEW_PASSWORD)

    async with tenant_session(tctx.tenant_id) as session:
        await session.execute(text("UPDATE one_time_tokens SET expires_at = now() - interval '1 second'"))
    with pytest.raises(AuthError, match="invalid or has expired"):
        await reset_password(tctx, token, NEW_PASSWORD)
    assert (await log_in(tctx, email="ann@example.com", password=PASSWORD)) is not None


async def test_login_ticket_is_not_a_reset_token(tctx, inbox: Inbox) -> None:
    from services.auth.accounts import issue_login_ticket

    user = await first_owner(tctx, email="ann@example.com", password=PASSWORD)
    ticket = await issue_login_ticket(tctx, user.id)
    with pytest.raises(AuthError):
        await reset_password(tctx, ticket, NEW_PASSWORD)


async def test_reset_requests_are_rate_limited(tctx, inbox: Inbox, monkeypatch) -> None:
    monkeypatch.setenv("LOGIN_MAX_FAILURES", "2")
    get_settings.cache_clear()
    await first_owner(tctx, email="ann@example.com", password=PASSWORD)
    for _ in range(2):
        await requested(tctx, "ann@example.com")
    with pytest.raises(RateLimited, match="Too many password reset attempts"):
        await requested(tctx, "ann@example.com")
    assert len(inbox.messages) == 2


async def test_reset_link_uses_the_tenants_own_address(tenant, tctx, inbox: Inbox, monkeypatch) -> None:
    """The link is built from the tenant's resolved host and SOLO_PUBLIC_URL's scheme, whatever the
    request said: a page on another site driving the form cannot make the email point at itself."""
    monkeypatch.setenv("SOLO_PUBLIC_URL", "https://app.example.com")
    monkeypatch.setenv("SOLO_BASE_DOMAIN", "coach.example.com")
    get_settings.cache_clear()
    await first_owner(tctx, email="ann@example.com", password=PASSWORD)
    await requested(tctx, "ann@example.com")
    body = inbox.messages[-1][1].get_body(("plain",))
    assert body is not None
    assert "evil" not in body.get_content()
    assert reset_token(inbox.messages[-1][1], f"https://{tenant.slug}.coach.example.com")


async def test_reset_link_uses_a_custom_domain(tctx, inbox: Inbox, monkeypatch) -> None:
    from services import tenants
    from services.db import global_session
    from tests.conftest import unique_slug

    async with global_session() as session:
        t = await tenants.create_tenant(session, name="Coach", slug=unique_slug(), domain="coach.example.org")
    ctx = TenantCtx(tenant_id=t.id, ip="203.0.113.9")
    await first_owner(ctx, email="ann@example.com", password=PASSWORD)
    await requested(ctx, "ann@example.com")
    assert reset_token(inbox.messages[-1][1], "http://coach.example.org:3000")


async def test_a_reset_revokes_every_other_reset_link(tenant, tctx, inbox: Inbox) -> None:
    await first_owner(tctx, email="ann@example.com", password=PASSWORD)
    origin = f"http://{tenant.slug}.localhost:3000"
    await requested(tctx, "ann@example.com")
    first = reset_token(inbox.messages[-1][1], origin)
    await requested(tctx, "ann@example.com")
    second = reset_token(inbox.messages[-1][1], origin)
    await reset_password(tctx, second, NEW_PASSWORD)
    with pytest.raises(AuthError, match="invalid or has expired"):  # e.g. a link an attacker also got
        await reset_password(tctx, first, "the attackers password")
    assert await log_in(tctx, email="ann@example.com", password=NEW_PASSWORD)
