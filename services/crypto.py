"""Symmetric encryption of secrets at rest (tenant API keys), keyed from the server's secret key."""

from __future__ import annotations

import base64
import hashlib
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken

from services.config import get_settings


@lru_cache(maxsize=4)
def _fernet(secret: str) -> Fernet:
    digest = hashlib.sha256(b"solo-os-ai/secrets-at-rest/v1:" + secret.encode()).digest()
    return Fernet(base64.urlsafe_b64encode(digest))


def encrypt(plaintext: str) -> str:
    return _fernet(get_settings().secret_key()).encrypt(plaintext.encode()).decode()


def decrypt(token: str) -> str:
    try:
        return _fernet(get_settings().secret_key()).decrypt(token.encode()).decode()
    except InvalidToken as exc:
        raise ValueError("a stored secret cannot be decrypted: was SOLO_SECRET_KEY changed?") from exc


def hint(secret: str) -> str:
    """What the UI may show of a key: its last four characters."""
    return f"…{secret[-4:]}" if len(secret) >= 8 else "…"
