"""jobs: a durable job queue in Postgres (no row-level security: the worker serves every tenant)

Revision ID: 0008
Revises: 0007

Workers claim due jobs with `SELECT ... FOR UPDATE SKIP LOCKED` and hold a lease (`locked_until`) while the
handler runs; see services/jobs/queue.py. Two partial indexes keep the claim cheap however many finished jobs the
table holds: queued jobs by `run_at`, running jobs by `locked_until` (expired leases). `dedupe_key` is unique only
among queued and running jobs, so enqueueing the same work twice while it is pending is one job.

The app role reads and writes the table through the default privileges of the schema (services/pg.py); there is
no policy on it, and it is never shown to users directly.
"""

from __future__ import annotations

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

TABLE = """
CREATE TABLE jobs (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind text NOT NULL,
    tenant_id uuid REFERENCES tenants(id) ON DELETE CASCADE,
    user_id uuid,
    payload jsonb NOT NULL DEFAULT '{}',
    dedupe_key text,
    status text NOT NULL DEFAULT 'queued',
    attempts integer NOT NULL DEFAULT 0,
    max_attempts integer NOT NULL DEFAULT 5,
    run_at timestamptz NOT NULL DEFAULT now(),
    locked_by text,
    locked_until timestamptz,
    last_error text,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT ck_jobs_status CHECK (status IN ('queued', 'running', 'done', 'failed')),
    CONSTRAINT ck_jobs_attempts CHECK (attempts >= 0 AND max_attempts >= 1)
);
CREATE INDEX ix_jobs_tenant_id ON jobs (tenant_id);
CREATE UNIQUE INDEX uq_jobs_dedupe_key ON jobs (dedupe_key) WHERE status IN ('queued', 'running');
CREATE INDEX ix_jobs_due ON jobs (run_at) WHERE status = 'queued';
CREATE INDEX ix_jobs_leases ON jobs (locked_until) WHERE status = 'running';
"""


def upgrade() -> None:
    op.execute(TABLE)


def downgrade() -> None:
    op.execute("DROP TABLE IF EXISTS jobs")
