"""Settings, read from the environment and an optional `.env` file.

Every variable is documented in README.md. Secrets live here and in the services layer only; they never
enter Reflex vars.
"""

from __future__ import annotations

import secrets
from functools import lru_cache
from pathlib import Path

from pydantic import Field, PrivateAttr
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")
    _secret: str | None = PrivateAttr(default=None)

    # Database. Empty DATABASE_URL means the embedded Postgres under SOLO_DATA_DIR.
    database_url: str = Field(default="", description="owner URL used for migrations and setup")
    app_database_url: str = Field(default="", description="URL of the non-superuser app role")
    app_db_password: str = ""
    solo_data_dir: Path = PROJECT_ROOT / ".data"
    solo_db_name: str = "solo"

    # Tenancy and web.
    solo_base_domain: str = "localhost"
    solo_default_tenant: str = "default"
    solo_default_tenant_name: str = "Solo OS AI"
    port: int = 3000
    solo_secret_key: str = ""
    solo_secure_cookies: bool = False
    solo_trust_proxy: bool = False
    solo_trusted_proxy_hops: int = 1
    solo_public_url: str = ""
    # Addresses (IPs or CIDRs, comma-separated) that tenant-supplied URLs may reach although not public,
    # e.g. an internal model gateway. Empty: public addresses only.
    solo_outbound_allow: str = ""

    # Accounts.
    session_days: int = 7  # sliding: a session unused this long ends
    session_max_days: int = 30  # absolute: no session lives longer than this from sign-in
    password_min_length: int = 10
    login_max_failures: int = 10  # per account and IP, inside the window
    login_account_max_failures: int = 100  # per account from every IP together
    login_ip_max_failures: int = 50  # per IP over every account
    login_window_minutes: int = 15
    reset_token_minutes: int = 60
    verify_token_hours: int = 48
    verify_resend_max: int = 3  # verification emails a user may ask for inside the window
    invite_token_days: int = 7

    # Email. Without SMTP_HOST, emails are written to the server log.
    smtp_host: str = ""
    smtp_port: int = 587
    smtp_user: str = ""
    smtp_password: str = ""
    smtp_from: str = "Solo OS AI <no-reply@localhost>"
    smtp_starttls: bool = True
    smtp_timeout: float = 10.0

    # OAuth (each shown only when configured).
    google_client_id: str = ""
    google_client_secret: str = ""
    google_discovery_url: str = "https://accounts.google.com/.well-known/openid-configuration"
    github_client_id: str = ""
    github_client_secret: str = ""
    github_authorize_url: str = "https://github.com/login/oauth/authorize"
    github_token_url: str = "https://github.com/login/oauth/access_token"
    github_api_url: str = "https://api.github.com"
    oidc_client_id: str = ""
    oidc_client_secret: str = ""
    oidc_discovery_url: str = ""
    oidc_label: str = "Single sign-on"

    # Durable jobs and embeddings (issue 8). The app process runs a job worker unless SOLO_WORKER=0 (then run
    # `solo worker` beside it); each worker runs WORKER_CONCURRENCY jobs at a time. Embeddings (for semantic
    # search of knowledge) use one of the configured providers of kind OpenAI or OpenAI-compatible, by its id
    # (e.g. "openai", or an LLM_ENDPOINTS id); a workspace's admins may choose their own. EMBEDDINGS_DIM 0: the
    # model's own size (sent as `dimensions` to OpenAI itself only). No provider: search is keyword-only.
    solo_worker: bool = True
    worker_concurrency: int = 2
    embeddings_provider: str = ""
    embeddings_model: str = ""
    embeddings_dim: int = 0

    # Files and knowledge (issue 8). Quotas in MB; a tenant's admins may lower the tenant's (never raise it).
    upload_max_mb: int = 50
    storage_quota_user_mb: int = 1024
    storage_quota_tenant_mb: int = 20480
    knowledge_whole_tokens: int = 6000  # a file this small goes into the model's context whole
    knowledge_context_tokens: int = 4000  # budget for the searched chunks of larger files and collections
    memory_token_budget: int = 600  # the memories put into one request, at most
    memory_max_count: int = 500  # memories one member may keep
    memory_max_tokens: int = 25000  # and their total size
    # Extraction (services/memory/extract.py): after every MEMORY_EXTRACT_EVERY turns of a member (across their
    # chats) that say something about them, or MEMORY_EXTRACT_QUIET_SECONDS after the last of fewer; the model
    # reads at most MEMORY_EXTRACT_INPUT_TOKENS of the new messages.
    # Composio (agent tools: web search, GoHighLevel...): the default workspace's API key; others enter theirs.
    composio_api_key: str = ""  # secret: never logged, never in an error message
    composio_base_url: str = ""  # empty: Composio's own (https://backend.composio.dev)
    memory_extract_every: int = 4
    memory_extract_quiet_seconds: float = 900.0
    memory_extract_input_tokens: int = 2000

    # File storage (issue 8). Without S3_BUCKET, files live in a local folder: FILES_DIR, or SOLO_DATA_DIR/files
    # when empty. With S3_BUCKET, in that bucket of any S3-compatible store (AWS, MinIO, R2...): S3_ENDPOINT_URL
    # empty means AWS itself; empty keys mean boto3's default credentials (AWS_* variables, instance role).
    # S3_PREFIX (e.g. "solo/") goes in front of every object key. Objects are never public.
    files_dir: str = ""
    s3_bucket: str = ""
    s3_endpoint_url: str = ""
    s3_region: str = "us-east-1"
    s3_access_key_id: str = ""
    s3_secret_access_key: str = ""  # secret: never logged, never in an error message
    s3_prefix: str = ""

    @property
    def embedded(self) -> bool:
        return not self.database_url

    @property
    def pg_data_dir(self) -> Path:
        return self.solo_data_dir / "pg"

    @property
    def files_root(self) -> Path:
        """The folder of the local file storage: FILES_DIR, else SOLO_DATA_DIR/files."""
        return Path(self.files_dir).expanduser() if self.files_dir else self.solo_data_dir / "files"

    def public_url(self) -> str:
        """The app's public address (scheme, port); tenants' hosts replace its host name in links."""
        return self.solo_public_url or f"http://localhost:{self.port}"

    def secret_key(self) -> str:
        """The key for signing and encryption; generated once into the data dir when not set.
        Read from disk once per process (the settings object is cached)."""
        if self._secret is None:
            self._secret = self._load_secret()
        return self._secret

    def _load_secret(self) -> str:
        if self.solo_secret_key:
            return self.solo_secret_key
        path = self.solo_data_dir / "secret_key"
        if path.exists():
            return path.read_text().strip()
        self.solo_data_dir.mkdir(parents=True, exist_ok=True)
        key = secrets.token_urlsafe(48)
        path.write_text(key)
        path.chmod(0o600)
        return key


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
