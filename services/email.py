"""Outgoing email over SMTP; without SMTP_HOST the message goes to the server log (development)."""

from __future__ import annotations

import asyncio
import logging
import smtplib
from email.message import EmailMessage

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
