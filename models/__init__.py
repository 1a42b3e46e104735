"""SQLModel tables. Importing this package registers every table on SQLModel.metadata."""

from models.tenant import ACCENT_COLORS, Tenant
from models.user import (
    ROLES,
    STATUSES,
    AuditLog,
    AuthFailure,
    AuthSession,
    OAuthAccount,
    OAuthState,
    OneTimeToken,
    User,
)

TENANT_OWNED_TABLES = (
    "users",
    "sessions",
    "oauth_accounts",
    "oauth_states",
    "one_time_tokens",
    "auth_failures",
    "audit_log",
)

__all__ = [
    "ACCENT_COLORS",
    "ROLES",
    "STATUSES",
    "TENANT_OWNED_TABLES",
    "AuditLog",
    "AuthFailure",
    "AuthSession",
    "OAuthAccount",
    "OAuthState",
    "OneTimeToken",
    "Tenant",
    "User",
]
