"""SQLModel tables. Importing this package registers every table on SQLModel.metadata."""

from models.agents import AGENT_VISIBILITIES, PLAN_TIERS, Agent, AgentTemplate, AgentVersion, McpServer
from models.billing import Plan
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
from models.files import (
    FILE_STATUSES,
    Collection,
    CollectionFile,
    ConversationCollection,
    FileChunk,
    FileSection,
    MessageCitation,
    MessageFile,
    StoredFile,
)
from models.jobs import JOB_STATUSES, JobRecord
from models.llm import TenantProvider
from models.memory import MEMORY_CATEGORIES, MEMORY_SOURCES, Memory, MemoryExtraction
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
    "files",
    "collections",
    "collection_files",
    "file_sections",
    "file_chunks",
    "message_files",
    "message_citations",
    "conversation_collections",
    "memories",
    "memory_extractions",
    "agents",
    "agent_versions",
    "agent_templates",
    "mcp_servers",
    "plans",
)

# Tables with a `tenant_id` column that are deliberately NOT under row-level security. `jobs`: the worker serves
# every tenant from one queue (it claims the next due job whoever it is for, then opens that tenant's session);
# no page or route reads it for users.
GLOBAL_TABLES_WITH_TENANT_ID = ("jobs",)

__all__ = [
    "ACCENT_COLORS",
    "AGENT_VISIBILITIES",
    "FILE_STATUSES",
    "GLOBAL_TABLES_WITH_TENANT_ID",
    "JOB_STATUSES",
    "MEMORY_CATEGORIES",
    "MEMORY_SOURCES",
    "MESSAGE_ROLES",
    "MESSAGE_STATUSES",
    "PLAN_TIERS",
    "ROLES",
    "STATUSES",
    "TENANT_OWNED_TABLES",
    "Agent",
    "AgentTemplate",
    "AgentVersion",
    "AuditLog",
    "AuthFailure",
    "AuthSession",
    "Collection",
    "CollectionFile",
    "Conversation",
    "ConversationCollection",
    "ConversationTag",
    "FileChunk",
    "FileSection",
    "Folder",
    "Invitation",
    "JobRecord",
    "McpServer",
    "Memory",
    "MemoryExtraction",
    "Message",
    "MessageCitation",
    "MessageFile",
    "OAuthAccount",
    "OAuthState",
    "OneTimeToken",
    "Plan",
    "StoredFile",
    "Tag",
    "Tenant",
    "TenantProvider",
    "UsageRecord",
    "User",
]
