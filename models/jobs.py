"""Durable jobs: work that must survive a restart (ingesting a file, later memory extraction, webhook effects).

One row per job in `jobs`. `status` moves queued -> running -> done, or back to queued (a retry, `run_at` later),
or to failed (`last_error` says why). A running job holds a lease (`locked_by`, `locked_until`) that its worker
extends while the handler runs; a lease that has expired (the worker died) lets another worker claim it again.
`dedupe_key` makes enqueueing idempotent: while one job with a key is queued or running, another with that key
is not added (a partial unique index).

Not tenant-owned in the RLS sense: the worker serves every tenant, so `jobs` has no row-level security. Its
`tenant_id` says which tenant a job works for (the handler opens that tenant's session) and cascades with the
tenant. Nothing shows this table to users; what they see is the state the handler records on its own rows.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, CheckConstraint, Column, Identity, Index, Text
from sqlalchemy import text as sql
from sqlmodel import Field, SQLModel

from models.base import fk, jsonb, ts

JOB_STATUSES = ("queued", "running", "done", "failed")


class JobRecord(SQLModel, table=True):
    __tablename__ = "jobs"
    __table_args__ = (
        CheckConstraint("status IN ('queued', 'running', 'done', 'failed')", name="ck_jobs_status"),
        Index(
            "uq_jobs_dedupe_key",
            "dedupe_key",
            unique=True,
            postgresql_where=sql("status IN ('queued', 'running')"),
        ),
        Index("ix_jobs_due", "run_at", postgresql_where=sql("status = 'queued'")),
        Index("ix_jobs_leases", "locked_until", postgresql_where=sql("status = 'running'")),
    )

    id: int | None = Field(
        default=None, sa_column=Column(BigInteger, Identity(always=True), primary_key=True)
    )
    kind: str = Field(sa_column=Column(Text, nullable=False))
    tenant_id: uuid.UUID | None = fk("tenants", nullable=True)
    user_id: uuid.UUID | None = None
    payload: dict[str, Any] = jsonb()
    dedupe_key: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    status: str = Field(default="queued", sa_column=Column(Text, nullable=False, server_default="queued"))
    attempts: int = 0
    max_attempts: int = 5
    run_at: datetime = ts()
    locked_by: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    locked_until: datetime | None = ts(nullable=True)
    last_error: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    created_at: datetime = ts()
    updated_at: datetime = ts()
