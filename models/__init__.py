"""SQLModel tables. Importing this package registers every table on SQLModel.metadata."""

from models.chat import (
    MESSAGE_ROLES,
    MESSAGE_STATUSES,
    Conversation,
    ConversationTag,
    Folder,
    Message,
    Tag,
    UsageRecord,
)
from models.llm import TenantProvider
from models.tenant import ACCENT_COLORS, Tenant
from models.user import (
    ROLES,
    STATUSES,
    AuditLog,
    AuthFailure,
    AuthSession,
    Invitation,
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
    "folders",
    "conversations",
    "messages",
    "tags",
    "conversation_tags",
    "usage_records",
    "tenant_providers",
    "invitations",
)

__all__ = [
    "ACCENT_COLORS",
    "MESSAGE_ROLES",
    "MESSAGE_STATUSES",
    "ROLES",
    "STATUSES",
    "TENANT_OWNED_TABLES",
    "AuditLog",
    "AuthFailure",
    "AuthSession",
    "Conversation",
    "ConversationTag",
    "Folder",
    "Invitation",
    "Message",
    "OAuthAccount",
    "OAuthState",
    "OneTimeToken",
    "Tag",
    "Tenant",
    "TenantProvider",
    "UsageRecord",
    "User",
]
