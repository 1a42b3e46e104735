"""Start-up and frontend size.

Prints, for `reflex run --env prod --single-port` on the embedded database:
- time from process start to the app answering (GET /login 200 and GET /health 200), median and p95 over runs;
- the size of the built frontend (.web/build/client): raw and gzip-compressed, JS+CSS+HTML.

Run: `make bench` (or `python bench/startup.py --runs 3`).
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

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR")


def reflex_env() -> dict[str, str]:
    """What `scripts/env.sh` sets for Reflex, for runs that did not source it."""
    tools = ROOT / ".tools"
    return {
        "REFLEX_DIR": str(tools / "reflex"),
        "BUN_INSTALL_CACHE_DIR": str(tools / "bun-cache"),
        "REFLEX_BUN_PATH": str(tools / "node_modules" / ".bin" / "bun"),
        "REFLEX_TELEMETRY_ENABLED": "false",
        "REFLEX_CHECK_LATEST_VERSION": "false",
        **os.environ,
    }


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_once(port: int, timeout: float = 300) -> float:
    env = {**reflex_env(), "PORT": str(port)}
    cmd = [str(ROOT / ".venv" / "bin" / "reflex"), "run", "--env", "prod", "--single-port", "--backend-host",
           "127.0.0.1", "--frontend-port", str(port), "--backend-port", str(port)]  # fmt: skip
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)  # fmt: skip
    try:
        while time.perf_counter() - t0 < timeout:
            try:
                ok = (
                    httpx.get(f"http://127.0.0.1:{port}/login", follow_redirects=True, timeout=2).status_code
                    == 200
                )
                if ok and httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).status_code == 200:
                    return time.perf_counter() - t0
            except httpx.HTTPError:
                pass
            if proc.poll() is not None:
                raise SystemExit(f"the app exited with {proc.returncode}")
            time.sleep(0.1)
        raise SystemExit("the app did not answer in time")
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(30)


def frontend_size() -> tuple[int, int, int]:
    build = ROOT / ".web" / "build" / "client"
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


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    from services.setup import setup

    setup()
    times = [start_once(free_port()) for _ in range(args.runs)]
    raw, compressed, files = frontend_size()
    print(f"start to answering (prod, one port, {args.runs} runs): median {statistics.median(times):.1f} s, "
          f"p95 {p95(times):.1f} s, runs {', '.join(f'{t:.1f}' for t in times)}")  # fmt: skip
    print(f"built frontend: {files} files, {raw / 1024:.0f} KiB raw, {compressed / 1024:.0f} KiB gzip")


if __name__ == "__main__":
    main()
