"""The job queue against the real test database: enqueue and dedupe, outcomes (done, retry with backoff,
permanent failure and its hook), leases (expiry after a killed worker, heartbeats, a lost lease), concurrency,
graceful stop, and real `solo worker` processes that are killed and restarted.

Every test registers handlers under kinds of its own (`kind()`) and claims only those: the jobs table is shared
by the whole test run."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from services.config import PROJECT_ROOT
from services.db import global_session, tenant_session
from services.jobs import queue
from services.jobs.queue import Job, Permanent, Retry, enqueue, handler, job_info, on_failed, run_once
from services.jobs.worker import background_worker, load_handlers, run_worker


def kind() -> str:
    return f"test.{uuid.uuid4().hex[:12]}"


@pytest.fixture(autouse=True)
async def _only_this_tests_jobs() -> None:
    """A worker here claims every registered kind: jobs other tests left pending (a memory extraction that came
    due, an earlier test's job whose lease expired) would be run in the middle of these tests."""
    async with global_session() as session:
        await session.execute(text("DELETE FROM jobs WHERE status IN ('queued', 'running')"))


async def add(k: str, payload: dict[str, Any], **options: Any) -> int:
    job_id = await enqueue(k, payload, **options)
    assert job_id is not None
    return job_id


async def status(job_id: int | None) -> tuple[str, int, str | None]:
    assert job_id is not None
    row = await job_info(job_id)
    assert row is not None
    return row.status, row.attempts, row.last_error


async def wait_until(predicate: Callable[[], Awaitable[bool]], seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not await predicate():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.05)


# Enqueue ------------------------------------------------------------------------------------------------------


async def test_enqueue_dedupes_pending_jobs_and_is_global(tenant) -> None:
    k = kind()
    key = f"{k}:file-1"
    first = await enqueue(k, {"file_id": "1"}, tenant_id=tenant.id, dedupe_key=key)
    assert first is not None
    assert await enqueue(k, {"file_id": "1"}, tenant_id=tenant.id, dedupe_key=key) is None
    row = await job_info(first)
    assert row is not None
    assert (row.kind, row.tenant_id, row.payload, row.status, row.attempts) == (
        k,
        tenant.id,
        {"file_id": "1"},
        "queued",
        0,
    )
    assert row.max_attempts == 5 and row.dedupe_key == key

    # Inside the caller's transaction: gone with a rollback, there with a commit (the table has no RLS, so a
    # tenant's session may add to it).
    with pytest.raises(RuntimeError):
        async with tenant_session(tenant.id) as session:
            lost = await enqueue(k, {}, tenant_id=tenant.id, dedupe_key=f"{k}:rolled-back", session=session)
            raise RuntimeError("roll back")
    assert lost is not None and await job_info(lost) is None
    async with tenant_session(tenant.id) as session:
        kept = await enqueue(k, {}, tenant_id=tenant.id, session=session)
    assert kept is not None and (await status(kept))[0] == "queued"

    # Once the job has run, the same key is new work again.
    runs: list[int] = []

    @handler(k)
    async def run(job: Job) -> None:
        runs.append(job.id)

    while await run_once("w1", kinds=[k]):
        pass
    assert sorted(runs) == sorted([first, kept])
    again = await enqueue(k, {"file_id": "1"}, tenant_id=tenant.id, dedupe_key=key)
    assert again is not None and again != first


async def test_enqueue_checks_its_arguments() -> None:
    with pytest.raises(ValueError, match="plain JSON"):
        await enqueue(kind(), {"when": datetime.now(UTC)}, tenant_id=None)
    with pytest.raises(ValueError, match="timezone-aware"):
        await enqueue(kind(), {}, tenant_id=None, run_at=datetime(2030, 1, 1))
    with pytest.raises(ValueError, match="at least 1"):
        await enqueue(kind(), {}, tenant_id=None, max_attempts=0)


async def test_a_job_runs_once_with_its_data_and_not_before_run_at(tenant) -> None:
    k = kind()
    seen: list[Job] = []

    @handler(k)
    async def run(job: Job) -> None:
        seen.append(job)

    user = uuid.uuid4()
    later = await add(k, {"n": 2}, tenant_id=tenant.id, run_at=datetime.now(UTC) + timedelta(hours=1))
    job_id = await add(k, {"n": 1}, tenant_id=tenant.id, user_id=user, max_attempts=3)
    assert await run_once("w1", kinds=[k]) is True
    assert await run_once("w1", kinds=[k]) is False  # the other one is not due
    assert [(j.id, j.kind, j.tenant_id, j.user_id, j.payload, j.attempts, j.max_attempts) for j in seen] == [
        (job_id, k, tenant.id, user, {"n": 1}, 1, 3)
    ]
    assert await status(job_id) == ("done", 1, None)
    row = await job_info(job_id)
    assert row is not None and row.locked_by is None and row.locked_until is None
    assert (await status(later))[0] == "queued"
    # A worker claims only kinds it has a handler for.
    unknown = kind()
    orphan = await add(unknown, {}, tenant_id=None)
    assert await run_once("w1", kinds=[unknown]) is False
    assert (await status(orphan))[0] == "queued"


# Outcomes ---------------------------------------------------------------------------------------------------


async def test_retry_backs_off_exponentially_then_succeeds(monkeypatch) -> None:
    monkeypatch.setattr(queue, "BACKOFF_BASE", 0.4)
    k = kind()
    attempts: list[int] = []

    @handler(k)
    async def flaky(job: Job) -> None:
        attempts.append(job.attempts)
        if job.attempts < 3:
            raise Retry(f"The provider is rate limiting (try {job.attempts}).")

    job_id = await add(k, {}, tenant_id=None)
    for n, ceiling in ((1, 0.4), (2, 0.8)):
        assert await run_once("w1", kinds=[k])
        row = await job_info(job_id)
        assert row is not None and row.status == "queued" and row.attempts == n
        assert row.last_error == f"The provider is rate limiting (try {n})."
        async with global_session() as session:
            wait = (
                await session.execute(
                    text("SELECT extract(epoch FROM run_at - now()) FROM jobs WHERE id = :i"), {"i": job_id}
                )
            ).scalar_one()
        assert ceiling / 2 - 0.1 <= float(wait) <= ceiling, (n, wait)  # jitter in the upper half
        assert await run_once("w1", kinds=[k]) is False  # not yet due
        await asyncio.sleep(float(wait) + 0.05)
    assert await run_once("w1", kinds=[k])
    assert attempts == [1, 2, 3]
    assert (await status(job_id))[:2] == ("done", 3)


async def test_retry_delay_and_unexpected_errors_are_retried() -> None:
    k = kind()

    @handler(k)
    async def broken(job: Job) -> None:
        if job.attempts == 1:
            raise Retry("Retry-After says 0", delay=0)
        if job.attempts == 2:
            raise KeyError("missing")

    job_id = await add(k, {}, tenant_id=None)
    assert await run_once("w1", kinds=[k])
    assert await status(job_id) == ("queued", 1, "Retry-After says 0")
    assert await run_once("w1", kinds=[k])  # delay 0: due at once
    st, n, error = await status(job_id)
    assert (st, n, error) == ("queued", 2, "KeyError: 'missing'")


async def test_permanent_failure_records_the_reason_and_calls_the_hook(tenant) -> None:
    k = kind()
    failed: list[tuple[int, str, int]] = []
    message = "The file is an encrypted PDF: remove the password and upload it again."

    @handler(k)
    async def parse(job: Job) -> None:
        raise Permanent(message)

    @on_failed(k)
    async def record(job: Job, error: str) -> None:
        failed.append((job.id, error, job.attempts))

    job_id = await add(k, {}, tenant_id=tenant.id)
    assert await run_once("w1", kinds=[k])
    assert await status(job_id) == ("failed", 1, message)
    assert failed == [(job_id, message, 1)]
    assert await run_once("w1", kinds=[k]) is False


async def test_attempts_run_out_then_the_job_fails_once() -> None:
    k = kind()
    failed: list[str] = []

    @handler(k)
    async def down(job: Job) -> None:
        raise Retry(f"down {job.attempts}", delay=0)

    @on_failed(k)
    async def record(job: Job, error: str) -> None:
        failed.append(error)
        raise RuntimeError("a broken hook is logged, not fatal")

    job_id = await add(k, {}, tenant_id=None, max_attempts=2)
    assert await run_once("w1", kinds=[k])
    assert await run_once("w1", kinds=[k])
    assert await status(job_id) == ("failed", 2, "down 2")
    assert failed == ["down 2"]
    assert await run_once("w1", kinds=[k]) is False


async def test_a_handler_that_runs_too_long_is_stopped_and_retried() -> None:
    k = kind()
    finished: list[int] = []

    @handler(k, timeout=0.2)
    async def slow(job: Job) -> None:
        await asyncio.sleep(5)
        finished.append(job.id)

    job_id = await add(k, {}, tenant_id=None)
    started = time.monotonic()
    assert await run_once("w1", kinds=[k])
    assert time.monotonic() - started < 2
    assert await status(job_id) == ("queued", 1, "The job took longer than 0.2 seconds.")
    assert finished == []


# Leases -------------------------------------------------------------------------------------------------------


async def test_an_expired_lease_is_claimed_again() -> None:
    """A worker that claimed a job and died (never finished, never extended the lease)."""
    k = kind()
    runs: list[tuple[str, int]] = []

    @handler(k)
    async def run(job: Job) -> None:
        runs.append(("w2", job.attempts))

    job_id = await add(k, {}, tenant_id=None)
    claimed = await queue._claim("dead-worker", [k], lease=0.3)
    assert claimed is not None and claimed[0].id == job_id
    row = await job_info(job_id)
    assert row is not None and (row.status, row.locked_by) == ("running", "dead-worker")
    assert await run_once("w2", kinds=[k]) is False  # the lease still holds
    await asyncio.sleep(0.4)
    assert await run_once("w2", kinds=[k])
    assert runs == [("w2", 2)]
    assert (await status(job_id))[:2] == ("done", 2)


async def test_a_job_that_keeps_killing_its_worker_fails() -> None:
    k = kind()
    failed: list[str] = []

    @handler(k)
    async def run(job: Job) -> None:
        raise AssertionError("never runs")

    @on_failed(k)
    async def record(job: Job, error: str) -> None:
        failed.append(error)

    job_id = await add(k, {}, tenant_id=None, max_attempts=1)
    assert await queue._claim("dead-worker", [k], lease=0.1) is not None
    await asyncio.sleep(0.2)
    assert await run_once("w2", kinds=[k])
    st, attempts, error = await status(job_id)
    assert (st, attempts) == ("failed", 1)
    assert error == failed[0] == "The job was interrupted 1 times (its worker stopped while running it)."


async def test_heartbeats_keep_a_long_job_from_being_claimed_twice() -> None:
    k = kind()
    runs: list[str] = []

    @handler(k)
    async def long(job: Job) -> None:
        runs.append("start")
        await asyncio.sleep(1.0)  # more than three leases

    job_id = await add(k, {}, tenant_id=None)
    first = asyncio.create_task(run_once("w1", kinds=[k], lease=0.3))
    await wait_until(lambda: _is_running(job_id))
    others = 0
    while not first.done():
        others += await run_once("w2", kinds=[k], lease=0.3)
        await asyncio.sleep(0.05)
    assert await first is True
    assert others == 0 and runs == ["start"]
    assert await status(job_id) == ("done", 1, None)


async def test_a_lost_lease_stops_the_handler_and_leaves_the_job_to_its_new_holder() -> None:
    k = kind()
    finished: list[int] = []

    @handler(k)
    async def long(job: Job) -> None:
        await asyncio.sleep(3)
        finished.append(job.id)

    job_id = await add(k, {}, tenant_id=None)
    run = asyncio.create_task(run_once("w1", kinds=[k], lease=0.3))
    await wait_until(lambda: _is_running(job_id))
    async with global_session() as session:  # another worker took it over (as after an expired lease)
        await session.execute(text("UPDATE jobs SET locked_by = 'w-new' WHERE id = :i"), {"i": job_id})
    started = time.monotonic()
    assert await run is True
    assert time.monotonic() - started < 1.5
    row = await job_info(job_id)
    assert row is not None and (row.status, row.locked_by) == ("running", "w-new")
    assert finished == []


async def _is_running(job_id: int) -> bool:
    row = await job_info(job_id)
    return row is not None and row.status == "running"


# Workers ------------------------------------------------------------------------------------------------------


async def test_concurrent_workers_never_run_a_job_twice() -> None:
    k = kind()
    runs: Counter[int] = Counter()
    by: dict[int, str | None] = {}

    @handler(k)
    async def work(job: Job) -> None:
        runs[job.id] += 1
        row = await job_info(job.id)
        by[job.id] = row.locked_by if row else None
        await asyncio.sleep(0.02)

    ids = {await add(k, {"i": i}, tenant_id=None) for i in range(40)}

    async def worker(name: str) -> None:
        while await run_once(name, kinds=[k]):
            pass

    await asyncio.gather(*(worker(f"w{i}") for i in range(6)))
    assert set(runs) == ids
    assert set(runs.values()) == {1}
    assert len(set(by.values())) > 1 and None not in by.values()  # the work was shared


async def test_run_worker_runs_jobs_and_stops_gracefully() -> None:
    k = kind()
    done: list[int] = []

    @handler(k)
    async def work(job: Job) -> None:
        await asyncio.sleep(0.01)
        done.append(job.id)

    stop = asyncio.Event()
    worker = asyncio.create_task(run_worker(3, stop, poll=0.05, modules=None))
    ids = [await add(k, {}, tenant_id=None) for _ in range(10)]
    await wait_until(lambda: _all_done(ids))
    stop.set()
    await asyncio.wait_for(worker, 3)
    assert sorted(done) == sorted(ids)


async def _all_done(ids: list[int]) -> bool:
    for job_id in ids:
        if (await status(job_id))[0] != "done":
            return False
    return True


async def test_a_stopping_worker_puts_its_running_job_back() -> None:
    k = kind()
    started: list[int] = []

    @handler(k)
    async def long(job: Job) -> None:
        started.append(job.attempts)
        if len(started) == 1:
            await asyncio.sleep(30)

    job_id = await add(k, {}, tenant_id=None)
    stop = asyncio.Event()
    worker = asyncio.create_task(run_worker(1, stop, poll=0.05, grace=0.2, modules=None))
    await wait_until(lambda: _is_running(job_id))
    stop.set()
    await asyncio.wait_for(worker, 3)
    st, attempts, error = await status(job_id)
    assert (st, attempts) == ("queued", 0)  # back at once, the interrupted run not counted
    assert error == "The worker stopped while running this job; it runs again."
    assert await run_once("w2", kinds=[k])
    assert started == [1, 1] and (await status(job_id))[0] == "done"


async def test_background_worker_and_missing_handler_modules(caplog) -> None:
    assert await load_handlers(["services.jobs.queue", "services.no_such_module"]) == ["services.jobs.queue"]
    assert "services.no_such_module does not exist" in caplog.text
    k = kind()
    done: list[int] = []

    @handler(k)
    async def work(job: Job) -> None:
        done.append(job.id)

    async with background_worker(1):
        job_id = await add(k, {}, tenant_id=None)
        await wait_until(lambda: _all_done([job_id]))
    assert done == [job_id]


async def test_jobs_go_with_their_tenant(tenant) -> None:
    job_id = await add(kind(), {}, tenant_id=tenant.id)
    async with global_session() as session:
        await session.execute(text("DELETE FROM tenants WHERE id = :t"), {"t": tenant.id})
    assert await job_info(job_id) is None


# Real worker processes ----------------------------------------------------------------------------------------

# A `solo worker` process with a test handler: each run appends "<pid> <job id> <attempt>" to the payload's log,
# and a job with "hang" hangs on its first attempt (until the process is killed).
WORKER_SCRIPT = """
import asyncio, os, sys
from services.jobs import queue
from services.cli import main

queue.LEASE_SECONDS = 1.0

@queue.handler(sys.argv[1])
async def work(job):
    with open(job.payload["log"], "a") as f:
        f.write(f"{os.getpid()} {job.id} {job.attempts}\\n")
    if job.payload.get("hang") and job.attempts == 1:
        await asyncio.sleep(600)
    await asyncio.sleep(0.01)

sys.exit(main(["worker", "--concurrency", "2"]))
"""


def start_worker(db_env: dict[str, str], k: str) -> subprocess.Popen[str]:
    env = {**os.environ, **db_env, "PYTHONPATH": str(PROJECT_ROOT)}
    return subprocess.Popen(
        [sys.executable, "-c", WORKER_SCRIPT, k],
        cwd=PROJECT_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


def log_lines(path: Path) -> list[list[str]]:
    return [line.split() for line in path.read_text().splitlines()] if path.exists() else []


async def test_worker_processes_share_jobs_and_survive_a_kill(db_env, tmp_path: Path) -> None:
    k = kind()
    log = tmp_path / "runs.log"
    hung = await add(k, {"log": str(log), "hang": True}, tenant_id=None)
    first = start_worker(db_env, k)
    try:
        await wait_until(lambda: _logged(log, 1), seconds=30)
        assert (await status(hung))[0] == "running"
        first.send_signal(signal.SIGKILL)  # the server dies mid-job
        first.wait(10)

        others = [await add(k, {"log": str(log), "i": i}, tenant_id=None) for i in range(30)]
        second, third = start_worker(db_env, k), start_worker(db_env, k)
        try:
            await wait_until(lambda: _all_done([hung, *others]), seconds=60)
        finally:
            for proc in (second, third):
                proc.send_signal(signal.SIGTERM)
            outputs = [proc.communicate(timeout=20) for proc in (second, third)]
        assert [p.returncode for p in (second, third)] == [0, 0], outputs
        assert all("job worker stopped" in out for out, _ in outputs)
    finally:
        for proc in (first,):
            if proc.poll() is None:
                proc.kill()
                proc.wait(5)

    lines = log_lines(log)
    runs = Counter(int(job) for _, job, _ in lines)
    assert runs[hung] == 2  # killed once, then run again by a new process
    assert {int(a) for _, job, a in lines if int(job) == hung} == {1, 2}
    assert all(runs[i] == 1 for i in others if i is not None)  # never twice
    pids = {pid for pid, job, _ in lines if int(job) in others}
    assert len(pids) == 2, "both workers took jobs"
    assert str(first.pid) not in pids


async def _logged(path: Path, count: int) -> bool:
    return len(log_lines(path)) >= count
