"""A durable job queue in Postgres (table `jobs`, migration 0008).

    job_id = await enqueue("ingest", {"file_id": str(file_id)}, tenant_id=t, user_id=u, dedupe_key=f"ingest:{file_id}")

    @handler("ingest")
    async def ingest(job: Job) -> None: ...      # opens its own tenant session; safe to run twice

    @on_failed("ingest")
    async def ingest_failed(job: Job, error: str) -> None: ...   # record the reason on the handler's own rows

How a job runs (`run_once`):
1. In one short transaction a worker claims the next due job it has a handler for, `FOR UPDATE SKIP LOCKED`
   (so concurrent workers never take the same row), marks it running, counts the attempt and takes a lease
   (`locked_until = now + LEASE_SECONDS`), and commits.
2. The handler runs with no transaction held. A heartbeat extends the lease every third of it; should the lease
   be lost (another worker took the job after it expired) the handler is cancelled.
3. Then, in another short transaction: done; or queued again after an exponential backoff with jitter (the handler
   raised `Retry` or an unexpected error, attempts < max_attempts); or failed with `last_error` (`Permanent`, or
   the attempts are used up), and the kind's `on_failed` hook is called.

A job whose worker died holds a lease that expires: the next worker claims it again. That is how work survives a
restart. A job interrupted that way `max_attempts` times is failed rather than run again (it may be what kills
the worker). A worker that stops on purpose (`run_worker`'s grace period ran out) puts its job back at once.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from sqlalchemy import text
from sqlmodel.ext.asyncio.session import AsyncSession

from models.jobs import JobRecord
from services.db import global_session

log = logging.getLogger(__name__)

LEASE_SECONDS = 60.0  # a running job is another worker's to claim this long after its last heartbeat
BACKOFF_BASE = 5.0  # seconds before the first retry, doubled for each further one...
BACKOFF_CAP = 3600.0  # ...up to this
DEFAULT_TIMEOUT = 3600.0  # a handler running longer than this is stopped and retried
ERROR_MAX_CHARS = 2000
HOOK_TIMEOUT = 60.0


@dataclass(frozen=True, slots=True)
class Job:
    """What a handler gets. `attempts` counts this run (1 on the first)."""

    id: int
    kind: str
    tenant_id: UUID | None
    user_id: UUID | None
    payload: dict[str, Any]
    attempts: int
    max_attempts: int = 5

    @property
    def last_attempt(self) -> bool:
        return self.attempts >= self.max_attempts


class Retry(Exception):
    """Raised by a handler that should run again later (a provider's 429, a service that is down). `delay`
    (seconds) replaces the backoff, e.g. from a Retry-After header. The message is kept as `last_error`."""

    def __init__(self, message: str = "", *, delay: float | None = None) -> None:
        super().__init__(message)
        self.delay = delay


class Permanent(Exception):
    """Raised by a handler when retrying cannot help (the file is not a PDF): the job fails at once, and its
    message (for the user) becomes `last_error` and goes to the failed hook."""


Handler = Callable[[Job], Awaitable[None]]
FailedHook = Callable[[Job, str], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class _Registration:
    fn: Handler
    timeout: float


_handlers: dict[str, _Registration] = {}
_failed_hooks: dict[str, FailedHook] = {}


def handler(kind: str, *, timeout: float = DEFAULT_TIMEOUT) -> Callable[[Handler], Handler]:
    """Register `async def fn(job: Job) -> None` as the handler of `kind` (a later registration replaces it)."""
    if not kind:
        raise ValueError("a job kind must not be empty")

    def register(fn: Handler) -> Handler:
        _handlers[kind] = _Registration(fn, timeout)
        return fn

    return register


def on_failed(kind: str) -> Callable[[FailedHook], FailedHook]:
    """Register `async def failed(job: Job, error: str) -> None`, called once when a job of `kind` fails for
    good, to record the reason where users see it (e.g. the file's status). Its own errors are logged."""

    def register(fn: FailedHook) -> FailedHook:
        _failed_hooks[kind] = fn
        return fn

    return register


def registered_kinds() -> frozenset[str]:
    return frozenset(_handlers)


# Enqueue -----------------------------------------------------------------------------------------------------

_INSERT = text(
    """
    INSERT INTO jobs (kind, tenant_id, user_id, payload, dedupe_key, run_at, max_attempts)
    VALUES (:kind, :tenant_id, :user_id, CAST(:payload AS jsonb), :dedupe_key,
            coalesce(CAST(:run_at AS timestamptz), now()), :max_attempts)
    ON CONFLICT (dedupe_key) WHERE status IN ('queued', 'running') DO NOTHING
    RETURNING id
    """
)


async def enqueue(
    kind: str,
    payload: dict[str, Any],
    *,
    tenant_id: UUID | None,
    user_id: UUID | None = None,
    dedupe_key: str | None = None,
    run_at: datetime | None = None,
    max_attempts: int = 5,
    session: AsyncSession | None = None,
) -> int | None:
    """Add a job; its id, or None when a job with the same `dedupe_key` is already queued or running (then
    nothing is added). With `session` the job is part of the caller's transaction (it exists only if that
    commits, and no worker sees it before); without, it is committed at once."""
    if not kind:
        raise ValueError("a job kind must not be empty")
    if max_attempts < 1:
        raise ValueError("max_attempts must be at least 1")
    if run_at is not None and run_at.tzinfo is None:
        raise ValueError("run_at must be timezone-aware (UTC)")
    try:
        body = json.dumps(payload)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"the payload of a {kind} job must be plain JSON data: {exc}") from exc
    params = {
        "kind": kind,
        "tenant_id": tenant_id,
        "user_id": user_id,
        "payload": body,
        "dedupe_key": dedupe_key,
        "run_at": run_at,
        "max_attempts": max_attempts,
    }
    if session is not None:
        job_id = (await session.execute(_INSERT, params)).scalar()
    else:
        async with global_session() as own:
            job_id = (await own.execute(_INSERT, params)).scalar()
    if job_id is None:
        log.debug("job %s with key %s is already pending", kind, dedupe_key)
        return None
    return int(job_id)


async def job_info(job_id: int) -> JobRecord | None:
    """The job's row as it is now (for tests, the operator, a status display)."""
    async with global_session() as session:
        return await session.get(JobRecord, job_id, populate_existing=True)


# Claim and run -----------------------------------------------------------------------------------------------

_RETURNING = "RETURNING j.id, j.kind, j.tenant_id, j.user_id, j.payload, j.attempts, j.max_attempts"
_TAKE = """
    UPDATE jobs j SET status = 'running', attempts = j.attempts + 1, locked_by = :worker,
        locked_until = now() + make_interval(secs => :lease), updated_at = now()
    FROM (SELECT id FROM jobs WHERE {where} AND kind = ANY(:kinds) ORDER BY {order} LIMIT 1 FOR UPDATE SKIP LOCKED) c
    WHERE j.id = c.id
"""
# A worker died holding these: first, so that they are not starved by a busy queue.
_CLAIM_EXPIRED = text(
    _TAKE.format(where="status = 'running' AND locked_until < now()", order="locked_until") + _RETURNING
)
_CLAIM_DUE = text(
    _TAKE.format(where="status = 'queued' AND run_at <= now()", order="run_at, id") + _RETURNING
)
_OWNED = "WHERE id = :id AND locked_by = :worker AND status = 'running'"
_EXTEND = text(
    f"UPDATE jobs SET locked_until = now() + make_interval(secs => :lease), updated_at = now() {_OWNED}"
)
_DONE = text(
    f"UPDATE jobs SET status = 'done', locked_by = NULL, locked_until = NULL, updated_at = now() {_OWNED}"
)
_REQUEUE = text(
    "UPDATE jobs SET status = 'queued', run_at = now() + make_interval(secs => :delay), last_error = :error, "
    f"attempts = attempts - :uncount, locked_by = NULL, locked_until = NULL, updated_at = now() {_OWNED}"
)
_FAIL = text(
    "UPDATE jobs SET status = 'failed', last_error = :error, attempts = least(attempts, max_attempts), "
    f"locked_by = NULL, locked_until = NULL, updated_at = now() {_OWNED}"
)


def backoff(attempts: int) -> float:
    """Seconds before the next try after `attempts` failed ones: exponential, with jitter in its upper half
    (so that jobs that failed together do not come back together, and never at once)."""
    ceiling = min(BACKOFF_CAP, BACKOFF_BASE * 2 ** max(0, attempts - 1))
    return ceiling * (0.5 + random.random() / 2)


def _job(row: Any) -> Job:
    payload = row.payload if isinstance(row.payload, dict) else json.loads(row.payload or "{}")
    return Job(row.id, row.kind, row.tenant_id, row.user_id, payload, row.attempts, row.max_attempts)


def _error_text(message: str) -> str:
    message = message.strip() or "The job failed without saying why."
    return message if len(message) <= ERROR_MAX_CHARS else message[: ERROR_MAX_CHARS - 1] + "\u2026"


async def _claim(worker_id: str, kinds: list[str], lease: float) -> tuple[Job, bool] | None:
    """(job, interrupted too often) for the next job to run, or None when nothing is due."""
    params = {"worker": worker_id, "kinds": kinds, "lease": lease}
    async with global_session() as session:
        row = (await session.execute(_CLAIM_EXPIRED, params)).first()
        if row is not None:
            job = _job(row)
            log.warning(
                "job %s (%s): its worker stopped while running it; running it again", job.id, job.kind
            )
            if job.attempts > job.max_attempts:
                return job, True
            return job, False
        row = (await session.execute(_CLAIM_DUE, params)).first()
    return (_job(row), False) if row is not None else None


async def _settle(statement: Any, job: Job, worker_id: str, **params: Any) -> bool:
    """Apply a final (or re-queue) update if this worker still holds the job; False when it lost the lease."""
    async with global_session() as session:
        result = await session.execute(statement, {"id": job.id, "worker": worker_id, **params})
    if not result.rowcount:  # type: ignore[attr-defined]
        log.warning("job %s (%s): lease lost before it finished; another worker has it", job.id, job.kind)
        return False
    return True


async def _failed(job: Job, worker_id: str, error: str) -> None:
    error = _error_text(error)
    if not await _settle(_FAIL, job, worker_id, error=error):
        return
    log.error("job %s (%s) failed after %s attempt(s): %s", job.id, job.kind, job.attempts, error)
    hook = _failed_hooks.get(job.kind)
    if hook is None:
        return
    try:
        await asyncio.wait_for(hook(job, error), HOOK_TIMEOUT)
    except Exception:
        log.exception("the failed hook of job %s (%s) raised", job.id, job.kind)


async def _retry(job: Job, worker_id: str, error: str, delay: float | None) -> None:
    if job.last_attempt:
        await _failed(job, worker_id, error)
        return
    wait = min(BACKOFF_CAP, max(0.0, delay)) if delay is not None else backoff(job.attempts)
    if await _settle(_REQUEUE, job, worker_id, error=_error_text(error), delay=wait, uncount=0):
        log.info("job %s (%s) will be retried in %.1f s: %s", job.id, job.kind, wait, error)


async def _release(job: Job, worker_id: str) -> None:
    """The worker is stopping: put the job back at once; this run does not count as an attempt."""
    note = "The worker stopped while running this job; it runs again."
    try:
        await asyncio.wait_for(
            _settle(_REQUEUE, job, worker_id, error=note, delay=0.0, uncount=1), timeout=5.0
        )
    except Exception:  # the lease expires anyway and another worker takes the job then
        log.warning("could not put job %s back; it runs again when its lease expires", job.id)


class _TimedOut(Exception):
    pass


async def _call(registration: _Registration, job: Job) -> None:
    try:
        async with asyncio.timeout(registration.timeout) as scope:
            await registration.fn(job)
    except TimeoutError:
        if scope.expired():
            raise _TimedOut from None
        raise


async def _heartbeat(
    job: Job, worker_id: str, lease: float, work: asyncio.Task[None], lost: list[bool]
) -> None:
    while not work.done():
        await asyncio.sleep(lease / 3)
        try:
            async with global_session() as session:
                result = await session.execute(_EXTEND, {"id": job.id, "worker": worker_id, "lease": lease})
        except Exception:  # a database hiccup: the next beat tries again, well inside the lease
            log.warning("job %s: could not extend its lease", job.id, exc_info=True)
            continue
        if not result.rowcount:  # type: ignore[attr-defined]
            log.warning("job %s (%s): lease lost while running; stopping its handler", job.id, job.kind)
            lost.append(True)
            work.cancel()
            return


async def run_once(
    worker_id: str, *, kinds: Collection[str] | None = None, lease: float | None = None
) -> bool:
    """Claim one due job and run it to its outcome; False when there was nothing to do.

    Only jobs of `kinds` (default: every kind with a handler in this process) are claimed: a worker never
    takes work it cannot do. A job whose attempts ran out is failed; anything else a handler raises is
    retried with backoff (and logged)."""
    wanted = sorted(k for k in (kinds if kinds is not None else _handlers) if k in _handlers)
    if not wanted:
        return False
    lease = LEASE_SECONDS if lease is None else lease
    claimed = await _claim(worker_id, wanted, lease)
    if claimed is None:
        return False
    job, interrupted_too_often = claimed
    if interrupted_too_often:
        await _failed(
            job, worker_id,
            f"The job was interrupted {job.max_attempts} times (its worker stopped while running it).",
        )  # fmt: skip
        return True
    registration = _handlers[job.kind]
    log.info("job %s (%s) attempt %s/%s by %s", job.id, job.kind, job.attempts, job.max_attempts, worker_id)
    work = asyncio.create_task(_call(registration, job), name=f"job-{job.id}")
    lost: list[bool] = []
    beat = asyncio.create_task(_heartbeat(job, worker_id, lease, work, lost), name=f"job-{job.id}-lease")
    try:
        await work
    except asyncio.CancelledError:
        current = asyncio.current_task()
        if current is not None and current.cancelling():
            if not lost:
                await _release(job, worker_id)
            raise
        if not lost:  # the handler cancelled itself
            await _retry(job, worker_id, "The job was cancelled.", None)
        return True
    except Permanent as exc:
        await _failed(job, worker_id, str(exc))
    except Retry as exc:
        await _retry(job, worker_id, str(exc) or "The job asked to be retried.", exc.delay)
    except _TimedOut:
        await _retry(job, worker_id, f"The job took longer than {registration.timeout:g} seconds.", None)
    except Exception as exc:
        log.exception("job %s (%s) raised", job.id, job.kind)
        await _retry(job, worker_id, f"{type(exc).__name__}: {exc}", None)
    else:
        if await _settle(_DONE, job, worker_id):
            log.info("job %s (%s) done", job.id, job.kind)
    finally:
        beat.cancel()
    return True


_PURGE = text(
    "DELETE FROM jobs WHERE (status = 'done' AND updated_at < now() - make_interval(secs => :done)) "
    "OR (status = 'failed' AND updated_at < now() - make_interval(secs => :failed))"
)


async def purge_finished(
    *, done_after: timedelta = timedelta(days=7), failed_after: timedelta = timedelta(days=30)
) -> int:
    """Delete finished jobs: done ones after a week, failed ones (kept longer, for the operator) after a month."""
    async with global_session() as session:
        result = await session.execute(
            _PURGE, {"done": done_after.total_seconds(), "failed": failed_after.total_seconds()}
        )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
