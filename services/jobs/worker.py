"""The job worker: `concurrency` loops that each run one job at a time (services/jobs/queue.py).

The app process runs one in the background (`background_worker`, registered as a lifespan task in app/app.py,
off with SOLO_WORKER=0), so `make run` stays one command; `solo worker` runs more in their own processes. Any
number of workers on any number of machines may share the database: the claim is `FOR UPDATE SKIP LOCKED`.

Handlers are registered by importing the modules of `HANDLER_MODULES`; one that does not exist yet is logged
and skipped (its jobs wait in the queue for a worker that has it).

Stopping: set `stop`. Each loop finishes the job it is running, for up to `grace` seconds; then it is cancelled
and its job put back in the queue at once (or, should even that fail, run again when its lease expires).
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import logging
import os
import secrets
import socket
import sys
import time
from collections.abc import AsyncIterator, Sequence

from services.jobs.queue import purge_finished, run_once

log = logging.getLogger(__name__)

HANDLER_MODULES = ["services.knowledge.ingest", "services.memory.extract"]
POLL_SECONDS = 0.5  # how often an idle loop looks for due jobs (one indexed query)
GRACE_SECONDS = 10.0
PURGE_EVERY = 3600.0
MAX_IDLE_AFTER_ERRORS = 30.0


async def load_handlers(modules: Sequence[str] = HANDLER_MODULES) -> list[str]:
    """Import the handler modules (off the event loop: imports can be slow); the names of those that loaded."""
    loaded: list[str] = []
    for name in modules:
        if name not in sys.modules:
            try:
                await asyncio.to_thread(importlib.import_module, name)
            except ModuleNotFoundError as exc:
                if exc.name and (name == exc.name or name.startswith(exc.name + ".")):
                    log.warning(
                        "job handlers: %s does not exist (yet); its jobs wait for a worker that has it", name
                    )
                else:
                    log.exception("job handlers: %s could not be imported", name)
                continue
            except Exception:
                log.exception("job handlers: %s could not be imported", name)
                continue
        loaded.append(name)
    return loaded


def worker_name() -> str:
    """host:pid:random, unique per worker: it is the lease holder's name in `jobs.locked_by`."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"


async def _loop(worker_id: str, stop: asyncio.Event, poll: float, *, purge: bool) -> None:
    errors = 0
    next_purge = time.monotonic() + 60.0
    while not stop.is_set():
        wait = poll
        try:
            ran = await run_once(worker_id)
            errors = 0
        except Exception:
            errors += 1
            wait = min(MAX_IDLE_AFTER_ERRORS, poll * 2**errors)
            log.exception(
                "job worker %s: could not claim or settle a job; trying again in %.0f s", worker_id, wait
            )
            ran = False
        if purge and time.monotonic() >= next_purge:
            next_purge = time.monotonic() + PURGE_EVERY
            try:
                removed = await purge_finished()
                if removed:
                    log.info("job worker: removed %s finished jobs", removed)
            except Exception:
                log.warning("job worker: could not remove finished jobs", exc_info=True)
        if not ran:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), wait)


async def run_worker(
    concurrency: int,
    stop: asyncio.Event,
    *,
    poll: float = POLL_SECONDS,
    grace: float = GRACE_SECONDS,
    modules: Sequence[str] | None = HANDLER_MODULES,
) -> None:
    """Run `concurrency` loops until `stop` is set (or this task is cancelled); `modules=None` loads none (the
    handlers are registered already)."""
    if modules:
        await load_handlers(modules)
    name = worker_name()
    loops = [
        asyncio.create_task(_loop(f"{name}/{i}", stop, poll, purge=i == 0), name=f"job-worker-{i}")
        for i in range(max(1, concurrency))
    ]
    log.info("job worker %s: %s loop(s)", name, len(loops))
    try:
        await stop.wait()
    finally:
        stop.set()
        _, pending = await asyncio.wait(loops, timeout=grace)
        for task in pending:
            task.cancel()
        if pending:
            log.warning(
                "job worker %s: %s job(s) still running at shutdown were put back", name, len(pending)
            )
            await asyncio.gather(*pending, return_exceptions=True)
        for task in loops:
            if task.done() and not task.cancelled() and task.exception() is not None:
                log.error("job worker loop ended with an error", exc_info=task.exception())


@contextlib.asynccontextmanager
async def background_worker(concurrency: int, *, grace: float = GRACE_SECONDS) -> AsyncIterator[None]:
    """A worker running in the background for the life of the block (the app's lifespan)."""
    stop = asyncio.Event()
    task = asyncio.create_task(run_worker(concurrency, stop, grace=grace), name="solo-job-worker")
    try:
        yield
    finally:
        stop.set()
        try:
            await asyncio.wait_for(task, grace + 5.0)
        except Exception:
            log.warning("the background job worker did not stop cleanly", exc_info=True)
