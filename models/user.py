from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from models.base import fk, id_field, jsonb, tenant_fk, ts

ROLES = ("owner", "admin", "instructor", "member")
STATUSES = ("active", "suspended")


class User(SQLModel, table=True):
    __tablename__ = "users"
    __table_args__ = (UniqueConstraint("tenant_id", "email", name="uq_users_tenant_email"),)

    id: uuid.UUID = id_field()
    tenant_id: uuid.UUID = tenant_fk()
    email: str = Field(max_length=320)  # stored lower-cased
    name: str = Field(default="", max_length=200)
    role: str = Field(default="member", max_length=20)
    status: str = Field(default="active", max_length=20)
    password_hash: str | None = Field(default=None, max_length=200)
    email_verified: bool = False
    is_platform_admin: bool = False
    memory_enabled: bool = True  # the Memory page's "Use memory": off, replies use and save none
    plan: str = Field(default="free", max_length=20)  # free | pro | premium: agents' and courses' plan gates
    plan_id: uuid.UUID | None = fk("plans", nullable=True, ondelete="SET NULL")  # None: the default plan
    created_at: datetime = ts()
    updated_at: datetime = ts()


class AuthSession(SQLModel, table=True):
    """A signed-in browser. Only the SHA-256 of its random token is stored."""

    __tablename__ = "sessions"

    id: uuid.UUID = id_field()
    tenant_id: uuid.UUID = tenant_fk()
    user_id: uuid.UUID = fk("users")
    token_hash: str = Field(max_length=64, unique=True, index=True)
    created_at: datetime = ts()
    expires_at: datetime = ts()
    last_seen_at: datetime = ts()
    revoked_at: datetime | None = ts(nullable=True)
    user_agent: str = Field(default="", max_length=500)
    ip: str = Field(default="", max_length=64)


class OAuthAccount(SQLModel, table=True):
    __tablename__ = "oauth_accounts"
    __table_args__ = (UniqueConstraint("tenant_id", "provider", "subject", name="uq_oauth_subject"),)

    id: uuid.UUID = id_field()
    tenant_id: uuid.UUID = tenant_fk()
    user_id: uuid.UUID = fk("users")
    provider: str = Field(max_length=40)
    subject: str = Field(max_length=255)
    email: str = Field(default="", max_length=320)
    created_at: datetime = ts()


class OAuthState(SQLModel, table=True):
    """A pending OAuth authorization: the state value (hashed) and its PKCE verifier, used once."""

    __tablename__ = "oauth_states"

    id: uuid.UUID = id_field()
    tenant_id: uuid.UUID = tenant_fk()
    state_hash: str = Field(max_length=64, unique=True, index=True)
    provider: str = Field(max_length=40)
    code_verifier: str = Field(max_length=128)
    nonce: str = Field(default="", max_length=128)
    redirect_uri: str = Field(max_length=2000)
    expires_at: datetime = ts()
    # The hash of the browser's OAuth binding cookie: the callback must come from the browser that started.
    binding_hash: str = Field(default="", max_length=64)
    # Set in link mode: the signed-in user who asked to connect this provider to their account.
    link_user_id: uuid.UUID | None = fk("users", nullable=True, index=False)


class OneTimeToken(SQLModel, table=True):
    """Single-use tokens: password reset links and login tickets (swapped for a session cookie)."""

    __tablename__ = "one_time_tokens"
    __table_args__ = (Index("ix_one_time_tokens_user_purpose", "user_id", "purpose"),)

    id: uuid.UUID = id_field()
    tenant_id: uuid.UUID = tenant_fk()
    user_id: uuid.UUID = fk("users")
    purpose: str = Field(max_length=20)  # "reset" | "login" | "verify"
    token_hash: str = Field(max_length=64, unique=True, index=True)
    expires_at: datetime = ts()
    used_at: datetime | None = ts(nullable=True)
    created_at: datetime = ts()


class AuthFailure(SQLModel, table=True):
    """One failed sign-in or sign-up attempt, counted per IP and per account for rate limiting."""

    __tablename__ = "auth_failures"
    __table_args__ = (Index("ix_auth_failures_lookup", "tenant_id", "scope", "key", "created_at"),)

    id: uuid.UUID = id_field()
    tenant_id: uuid.UUID = tenant_fk()
    scope: str = Field(max_length=20)  # "ip" | "email" | "acct_ip" | "signup_ip" | ...
    key: str = Field(max_length=320)
    created_at: datetime = ts()


class AuditLog(SQLModel, table=True):
    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_tenant_time", "tenant_id", "created_at"),)

    id: uuid.UUID = id_field()
    tenant_id: uuid.UUID = tenant_fk()
    actor_user_id: uuid.UUID | None = fk("users", nullable=True, ondelete="SET NULL")
    target_user_id: uuid.UUID | None = fk("users", nullable=True, ondelete="SET NULL")
    action: str = Field(max_length=60)
    detail: dict[str, Any] = jsonb()
    ip: str = Field(default="", max_length=64)
    created_at: datetime = ts()


class Invitation(SQLModel, table=True):
    """An emailed invitation to join a tenant with a role; its link (token stored hashed) is used once."""

    __tablename__ = "invitations"

    id: uuid.UUID = id_field()
    tenant_id: uuid.UUID = tenant_fk()
    email: str = Field(max_length=320)  # lower-cased
    role: str = Field(default="member", max_length=20)
    token_hash: str = Field(max_length=64, unique=True, index=True)
    invited_by: uuid.UUID | None = fk("users", nullable=True, ondelete="SET NULL")
    expires_at: datetime = ts()
    used_at: datetime | None = ts(nullable=True)
    created_at: datetime = ts()
