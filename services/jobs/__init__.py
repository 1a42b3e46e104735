"""Durable jobs in Postgres: `enqueue` work, register `handler`s, and a worker (`run_worker`) that runs them.

See services/jobs/queue.py for how a job is claimed, leased, retried and failed, and worker.py for the loops the
app process (and `solo worker`) run.
"""

from services.jobs.queue import (
    Job,
    Permanent,
    Retry,
    enqueue,
    handler,
    job_info,
    on_failed,
    registered_kinds,
    run_once,
)

__all__ = [
    "Job",
    "Permanent",
    "Retry",
    "enqueue",
    "handler",
    "job_info",
    "on_failed",
    "registered_kinds",
    "run_once",
]
