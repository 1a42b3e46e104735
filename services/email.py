"""Outgoing email over SMTP; without SMTP_HOST the message goes to the server log (development)."""

from __future__ import annotations

import asyncio
import logging
import smtplib
from collections.abc import Coroutine
from email.message import EmailMessage
from typing import Any

from services.config import get_settings

log = logging.getLogger("solo.email")


def _send_sync(message: EmailMessage) -> None:
    s = get_settings()
    with smtplib.SMTP(s.smtp_host, s.smtp_port, timeout=s.smtp_timeout) as smtp:
        if s.smtp_starttls:
            smtp.starttls()
        if s.smtp_user:
            smtp.login(s.smtp_user, s.smtp_password)
        smtp.send_message(message)


async def send_email(to: str, subject: str, body: str) -> None:
    s = get_settings()
    message = EmailMessage()
    message["From"] = s.smtp_from
    message["To"] = to
    message["Subject"] = subject
    message.set_content(body)
    if not s.smtp_host:
        log.warning("SMTP_HOST is not set; email to %s not sent. Subject: %s\n%s", to, subject, body)
        return
    await asyncio.to_thread(_send_sync, message)


_pending: set[asyncio.Task[None]] = set()


async def _deliver(to: str, subject: str, body: str) -> None:
    try:
        await send_email(to, subject, body)
    except Exception:
        log.exception("sending email to %s failed (subject: %s)", to, subject)


def send_later(to: str, subject: str, body: str) -> None:
    """Send off the request path: the caller answers at once, whatever SMTP does (and however long it takes),
    so the response time cannot tell whether an email was sent. A strong reference keeps the task alive."""
    task = asyncio.get_running_loop().create_task(_deliver(to, subject, body))
    _pending.add(task)
    task.add_done_callback(_pending.discard)


def spawn(coro: Coroutine[Any, Any, object], what: str) -> None:
    """Run `coro` (which prepares and sends an email) off the request path, logging any failure."""

    async def run() -> None:
        try:
            await coro
        except Exception:
            log.exception("%s failed", what)

    task = asyncio.get_running_loop().create_task(run())
    _pending.add(task)
    task.add_done_callback(_pending.discard)


async def drain() -> None:
    """Wait for every email still being sent (tests; a clean shutdown)."""
    while _pending:
        await asyncio.gather(*list(_pending), return_exceptions=True)
