"""Start-up and frontend size.

Prints, for `make run` (scripts/run.sh: set-up, build only when needed, one port) on the embedded database:
- cold start (the frontend is rebuilt: compile + Vite build + server) to answering, median and p95;
- warm start (nothing changed: the backend alone serves the last build) to answering, median and p95;
- for both, the CPU seconds the start used (all its processes), and the machine's load while measuring, since
  on a shared machine wall time mostly tells how busy the other processes were;
- the size of the built frontend (build/client): raw and gzip-compressed, JS+CSS+HTML.
"Answering" is GET /login 200 (following redirects) and GET /health 200.

The bench builds into its own web directory (`.web-bench`, via REFLEX_WEB_WORKDIR) on one free port, so the
build `make run` uses is left alone. Its first build also installs the frontend packages (bun, from the
local cache); that one is reported separately and not counted as a cold start.

Run: `make bench` (or `python bench/startup.py --cold 2 --warm 5`).
"""

from __future__ import annotations

import argparse
import gzip
import os
import signal
import socket
import statistics
import subprocess
import sys
import time
import warnings
from pathlib import Path

import httpx
import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR")

from scripts import frontend  # noqa: E402

WEB_DIR = ROOT / ".web-bench"
LOG = WEB_DIR.parent / ".data" / "bench-startup.log"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cpu_seconds(proc: psutil.Process) -> float:
    """CPU used by a process, its live descendants and every child it has waited for."""
    total = 0.0
    for p in [proc, *proc.children(recursive=True)]:
        try:
            t = p.cpu_times()
        except psutil.Error:
            continue
        total += t.user + t.system + t.children_user + t.children_system
    return total


def answering(port: int) -> bool:
    try:
        page = httpx.get(f"http://127.0.0.1:{port}/login", follow_redirects=True, timeout=2)
        return (
            page.status_code == 200
            and httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).status_code == 200
        )
    except httpx.HTTPError:
        return False


def start_once(port: int, timeout: float = 600) -> tuple[float, float]:
    """Start `scripts/run.sh` and return (seconds to answering, CPU seconds used by then)."""
    env = {**os.environ, "PORT": str(port), "HOST": "127.0.0.1", "REFLEX_WEB_WORKDIR": str(WEB_DIR)}
    t0 = time.perf_counter()
    with LOG.open("w") as out:
        proc = subprocess.Popen(["bash", str(ROOT / "scripts" / "run.sh")], cwd=ROOT, env=env,
                                stdout=out, stderr=subprocess.STDOUT, start_new_session=True)  # fmt: skip
    ps = psutil.Process(proc.pid)
    try:
        while time.perf_counter() - t0 < timeout:
            if answering(port):
                return time.perf_counter() - t0, cpu_seconds(ps)
            if proc.poll() is not None:
                raise SystemExit(f"the app exited with {proc.returncode}; see {LOG}")
            time.sleep(0.05)
        raise SystemExit("the app did not answer in time")
    finally:
        stop(proc)
        wait_port_free(port)


def stop(proc: subprocess.Popen) -> None:  # type: ignore[type-arg]
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(30)
    except ProcessLookupError:
        return
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)


def wait_port_free(port: int, timeout: float = 30) -> None:
    """The next start must not race the last one's workers for the port."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                s.bind(("127.0.0.1", port))
                return
            except OSError:
                time.sleep(0.2)


def frontend_size() -> tuple[int, int, int]:
    build = WEB_DIR / "build" / "client"
    raw = compressed = files = 0
    for path in build.rglob("*"):
        if path.is_file() and path.suffix in {".js", ".css", ".html"}:
            data = path.read_bytes()
            raw += len(data)
            compressed += len(gzip.compress(data, 9))
            files += 1
    return raw, compressed, files


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def report(label: str, runs: list[tuple[float, float]], loads: list[float]) -> None:
    wall = [w for w, _ in runs]
    cpu = [c for _, c in runs]
    print(f"{label} ({len(runs)} runs): median {statistics.median(wall):.1f} s, p95 {p95(wall):.1f} s "
          f"[{', '.join(f'{w:.1f}' for w in wall)}]; CPU median {statistics.median(cpu):.1f} s; "
          f"load average {min(loads):.1f}-{max(loads):.1f} on {os.cpu_count()} cores")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cold", type=int, default=2, help="starts that rebuild the frontend")
    parser.add_argument("--warm", type=int, default=5, help="starts with nothing changed")
    args = parser.parse_args()
    port = free_port()
    stamp = WEB_DIR / frontend.STAMP

    if not (WEB_DIR / "node_modules").is_dir():
        first, _ = start_once(port)
        print(f"first build of {WEB_DIR.name} (installs the frontend packages): {first:.1f} s")

    cold: list[tuple[float, float]] = []
    cold_loads: list[float] = []
    for _ in range(args.cold):
        stamp.unlink(missing_ok=True)  # as after an edit of a page
        cold_loads.append(os.getloadavg()[0])
        cold.append(start_once(port))
    warm: list[tuple[float, float]] = []
    warm_loads: list[float] = []
    for _ in range(args.warm):
        warm_loads.append(os.getloadavg()[0])
        warm.append(start_once(port))

    if cold:
        report("cold start to answering (frontend rebuilt)", cold, cold_loads)
    report("warm start to answering (backend only, last build)", warm, warm_loads)
    raw, compressed, files = frontend_size()
    print(f"built frontend: {files} files, {raw / 1024:.0f} KiB raw, {compressed / 1024:.0f} KiB gzip")


if __name__ == "__main__":
    main()
