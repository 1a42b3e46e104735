"""End-to-end harness: the real app (production mode, one port, started like `make run` by
`scripts/frontend.py serve`) against the test database, driven by Debian's Chromium through Playwright. One app
server for the whole session; tenants are told apart by host name (`<slug>.localhost`, which Chromium resolves to
loopback).

The frontend is built into its own directory (`.web-e2e`) for a port that stays the same for this checkout, so a
session whose app sources did not change since the last one skips the build and starts the backend alone."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import zlib
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from services.config import PROJECT_ROOT
from tests.fakes.composio_server import FakeComposio
from tests.fakes.llm_server import FakeLLMServer
from tests.fakes.oauth_provider import FakeOAuthProvider

CHROMIUM = os.environ.get("SOLO_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-dev-shm-usage",
]
START_TIMEOUT = float(os.environ.get("SOLO_E2E_START_TIMEOUT", "300"))
WEB_DIR = PROJECT_ROOT / ".web-e2e"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def app_port() -> int:
    """The same port for every session of this checkout (the built frontend names its port, so a new port
    means a new build); a free one when that port is taken. SOLO_E2E_PORT overrides it."""
    if wanted := os.environ.get("SOLO_E2E_PORT"):
        return int(wanted)
    port = 20000 + zlib.crc32(str(PROJECT_ROOT).encode()) % 20000
    with socket.socket() as s:
        # As the server binds it: a port whose last connections linger in TIME_WAIT is free to reuse.
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return free_port()
    return port


@dataclass(frozen=True)
class AppServer:
    port: int
    log: Path

    def url(self, path: str = "/", host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.port}{path}"


def _tail(path: Path, lines: int = 60) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


@pytest.fixture(scope="session")
def fake_llm() -> Iterator[FakeLLMServer]:
    """One fake OpenAI-compatible provider for the app under test; tests reconfigure it."""
    with FakeLLMServer() as server:
        yield server


@pytest.fixture
def llm(fake_llm: FakeLLMServer) -> Iterator[FakeLLMServer]:
    fake_llm.reset()
    yield fake_llm
    fake_llm.reset()


@pytest.fixture(scope="session")
def fake_oauth() -> Iterator[FakeOAuthProvider]:
    """A loopback OpenID Connect provider the app under test offers as "Google"; tests set its identity."""
    provider = FakeOAuthProvider().start()
    yield provider
    provider.stop()


@pytest.fixture(scope="session")
def fake_composio() -> Iterator[FakeComposio]:
    """A loopback fake of the Composio API: the app's default Composio key points at it."""
    with FakeComposio() as server:
        yield server


# Package scope: the app stops after the last browser test. Its job worker claims every tenant's jobs in the
# shared test database, so left running it would take (and fail) the service tests' ingestion jobs.
@pytest.fixture(scope="package")
def app_server(
    db_env: dict[str, str],
    fake_llm: FakeLLMServer,
    fake_oauth: FakeOAuthProvider,
    fake_composio: FakeComposio,
) -> Iterator[AppServer]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"Chromium not found at {CHROMIUM}: install Debian's chromium (`.ci/run` does)")
    port = app_port()
    log = PROJECT_ROOT / ".data" / "test" / "e2e-app.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    tools = PROJECT_ROOT / ".tools"
    env = {
        "REFLEX_DIR": str(tools / "reflex"),
        "BUN_INSTALL_CACHE_DIR": str(tools / "bun-cache"),
        "REFLEX_BUN_PATH": str(tools / "node_modules" / ".bin" / "bun"),
        "REFLEX_TELEMETRY_ENABLED": "false",
        "REFLEX_CHECK_LATEST_VERSION": "false",
        **os.environ,
        **db_env,
        "PORT": str(port),
        "REFLEX_WEB_WORKDIR": str(WEB_DIR),
        "SOLO_DEFAULT_TENANT_NAME": "Solo OS AI",
        # The fake providers listen on loopback: the operator lets workspace providers reach it.
        "SOLO_OUTBOUND_ALLOW": "127.0.0.0/8",
        "GOOGLE_CLIENT_ID": fake_oauth.client_id,
        "GOOGLE_CLIENT_SECRET": fake_oauth.client_secret,
        "GOOGLE_DISCOVERY_URL": fake_oauth.discovery_url,
        # Files are embedded by the fake's /v1/embeddings (64 numbers: searched exactly, no HNSW size).
        "EMBEDDINGS_PROVIDER": "fake",
        "EMBEDDINGS_MODEL": "fake-embed",
        "EMBEDDINGS_DIM": "64",
        # Memory extraction runs only when a test makes its job due (a stray run would add a request to the
        # fake provider in the middle of another test).
        "COMPOSIO_API_KEY": fake_composio.api_key,
        "COMPOSIO_BASE_URL": fake_composio.url,
        "MEMORY_EXTRACT_EVERY": "1000",
        "MEMORY_EXTRACT_QUIET_SECONDS": "86400",
        "LLM_ENDPOINTS": json.dumps(
            [
                {
                    "id": "fake",
                    "label": "Fake AI",
                    "base_url": fake_llm.openai_base_url,
                    "models": ["fake-model"],
                }
            ]
        ),
    }
    for name in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "XAI_API_KEY"):
        env.pop(name, None)
    env.pop("PYTEST_CURRENT_TEST", None)
    # The test database is already set up (tests/conftest.py): build when needed, then serve.
    cmd = [sys.executable, str(PROJECT_ROOT / "scripts" / "frontend.py"), "serve", "--no-setup",
           "--host", "127.0.0.1", "--port", str(port), "--loglevel", "info"]  # fmt: skip
    with log.open("w") as out:
        proc = subprocess.Popen(cmd, cwd=PROJECT_ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)  # fmt: skip
    server = AppServer(port=port, log=log)
    deadline = time.monotonic() + START_TIMEOUT
    try:
        while True:
            if proc.poll() is not None:
                pytest.fail(f"the app exited with {proc.returncode} while starting:\n{_tail(log)}")
            try:
                page = httpx.get(server.url("/login"), timeout=2, follow_redirects=True)
                health = httpx.get(server.url("/health"), timeout=2)
                if page.status_code == 200 and health.status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"the app did not answer within {START_TIMEOUT:.0f} s:\n{_tail(log)}")
            time.sleep(0.5)
        yield server
    finally:
        _stop(proc)


def _stop(proc: subprocess.Popen) -> None:  # type: ignore[type-arg]
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=20)
    except ProcessLookupError:
        return
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)


@pytest.fixture(scope="session")
async def browser() -> AsyncIterator[object]:
    from playwright.async_api import async_playwright

    async with async_playwright() as p:
        b = await p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        await b.close()


@pytest.fixture
async def page(browser) -> AsyncIterator[object]:  # type: ignore[no-untyped-def]
    context = await browser.new_context(viewport={"width": 1100, "height": 800})
    context.set_default_timeout(15_000)
    pg = await context.new_page()
    yield pg
    await context.close()
