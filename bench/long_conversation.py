"""Does a long conversation cost what a short one costs? Opening it, and sending a message in it.

Seeds a fresh user (password sign-in, verified) in the default workspace with two linear conversations, user
and assistant in turn, of 10 and of 2,000 messages (about 300 characters each; one bulk INSERT as the app
role, row-level security on). Starts the fake OpenAI-compatible provider and the app the way `make run` does
(`bench/ttft.py`'s `start_app`: built into `.web-bench`, one port), signs in with Chromium, then for each
conversation, `--runs` times (after one warm-up):

- open: load /c/<id>; (a) the time from navigation to the conversation's last message being rendered (the
  last `[data-role]` element inside `#messages` shows its text); (b) the websocket bytes the page received
  from navigation until then, plus a settle of 0.5 s (trailing updates of the same load);
- send: type into `textarea#message-input`, press "Send"; (c) the time until the reply is finished (the
  "Stop" button gone and one more `[data-role="assistant"]` in `#messages`); (d) the websocket bytes received
  from the click until then, plus the same settle.

Bytes are the frames' payloads as the browser decoded them (after any websocket compression). Prints the
median of each figure for both sizes and the ratio 2000/10: near 1 when a page costs what the part shown
costs, not what the whole conversation costs.

Run: `make bench-long` (or `python bench/long_conversation.py --runs 5`).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import statistics
import sys
import time
import uuid
import warnings
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR")

from bench.startup import free_port  # noqa: E402
from bench.ttft import start_app  # noqa: E402
from tests.fakes.llm_server import FakeLLMServer  # noqa: E402

SIZES = (10, 2000)
PASSWORD = "benchmark password 1"
SETTLE = 0.5  # seconds of trailing websocket traffic counted after each measured moment
TIMEOUT_MS = 300_000
REPLY = " ".join(f"word{i}" for i in range(40))
FILLER = (
    "Row-level security keeps every tenant's rows apart, and the recursive query walks the branch upward "
    "from its leaf one primary-key lookup at a time, so a window of fifty messages costs the same whether the "
    "conversation holds ten messages or two thousand; the page should send only what it shows. "
)
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-renderer-backgrounding",
    "--disable-background-timer-throttling",
    "--disable-backgrounding-occluded-windows",
]

# The last message element of the conversation shows the marker (rendered, with a box).
LAST_SHOWN = """
(marker) => {
  const all = document.querySelectorAll('#messages [data-role]');
  const last = all[all.length - 1];
  return !!last && last.innerText.includes(marker) && last.getBoundingClientRect().height > 0;
}
"""
# The reply is finished: one more assistant message than before, and no Stop button.
FINISHED = """
(before) => document.querySelectorAll('#messages [data-role="assistant"]').length > before
  && ![...document.querySelectorAll('button')].some(b => b.innerText.trim() === 'Stop')
"""


def marker(i: int) -> str:
    return f"[m{i:04d}]"


def message_text(i: int) -> str:
    return (marker(i) + " " + FILLER * 2)[:300]


@dataclass
class Seeded:
    email: str
    conversations: dict[int, uuid.UUID] = field(default_factory=dict)  # size -> conversation id


async def seed() -> Seeded:
    """A verified member with a password, and one linear conversation per size (bulk INSERT as the app role)."""
    from sqlalchemy import insert, text, update
    from sqlmodel import col

    from models import Conversation, Message
    from models.base import utcnow
    from services import chat
    from services.auth.accounts import create_user
    from services.config import get_settings
    from services.context import Ctx
    from services.db import dispose_all, global_session, tenant_session
    from services.tenants import get_by_slug

    out = Seeded(email=f"long-{uuid.uuid4().hex[:8]}@example.com")
    try:
        async with global_session() as session:
            tenant = await get_by_slug(session, get_settings().solo_default_tenant)
        if tenant is None:
            raise SystemExit("no default workspace: run `solo setup` first")
        async with tenant_session(tenant.id) as session:
            user = await create_user(
                session, tenant.id, email=out.email, role="member", password=PASSWORD, email_verified=True
            )
        ctx = Ctx(tenant_id=tenant.id, user_id=user.id, role="member")
        for size in SIZES:
            conversation = await chat.create_conversation(ctx, title=f"Bench: {size:,} messages")
            start = utcnow() - timedelta(seconds=size + 60)
            ids = [uuid.uuid4() for _ in range(size)]
            rows: list[dict[str, Any]] = [
                {
                    "id": mid,
                    "tenant_id": tenant.id,
                    "conversation_id": conversation.id,
                    "parent_id": ids[i - 1] if i else None,
                    "role": "user" if i % 2 == 0 else "assistant",
                    "text": message_text(i),
                    "content_parts": [],
                    "status": "complete",
                    "error_text": "",
                    "provider": "",
                    "model": "",
                    "created_at": start + timedelta(seconds=i),
                }
                for i, mid in enumerate(ids)
            ]
            async with tenant_session(tenant.id) as session:
                for chunk in range(0, size, 500):
                    await session.exec(insert(Message).values(rows[chunk : chunk + 500]))
                await session.exec(
                    update(Conversation)
                    .where(col(Conversation.id) == conversation.id)
                    .values(current_leaf_id=ids[-1], updated_at=rows[-1]["created_at"])
                )
                count = await session.scalar(
                    text("SELECT count(*) FROM messages WHERE conversation_id = :c"), {"c": conversation.id}
                )
            assert count == size, (count, size)
            out.conversations[size] = conversation.id
    finally:
        await dispose_all()
    return out


class Bytes:
    """Websocket payload bytes a page received (every socket of the page, across reloads)."""

    def __init__(self) -> None:
        self.total = 0

    def attach(self, page: Any) -> None:
        def on_socket(ws: Any) -> None:
            ws.on("framereceived", self._frame)

        page.on("websocket", on_socket)

    def _frame(self, payload: str | bytes) -> None:
        self.total += len(payload.encode() if isinstance(payload, str) else payload)


async def measure(port: int, seeded: Seeded, runs: int) -> dict[int, dict[str, list[float]]]:
    from playwright.async_api import async_playwright

    base = f"http://127.0.0.1:{port}"
    figures: dict[int, dict[str, list[float]]] = {}
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        page = await (await browser.new_context(viewport={"width": 1280, "height": 800})).new_page()
        received = Bytes()
        received.attach(page)
        await page.goto(base + "/login")
        await page.get_by_label("Email").fill(seeded.email)
        await page.get_by_label("Password").fill(PASSWORD)
        await page.get_by_role("button", name="Log in").click()
        await page.locator("textarea#message-input").wait_for(timeout=60_000)

        for size in SIZES:
            cid = seeded.conversations[size]
            last = marker(size - 1)
            got: dict[str, list[float]] = {"open_s": [], "open_bytes": [], "send_s": [], "send_bytes": []}
            for run in range(runs + 1):  # the first open is a warm-up
                await page.goto(base + "/")  # a new chat first: every open is a fresh load
                await page.locator("textarea#message-input").wait_for(timeout=60_000)
                await asyncio.sleep(SETTLE)
                received.total = 0
                started = time.perf_counter()
                await page.goto(f"{base}/c/{cid}", wait_until="commit")
                await page.wait_for_function(LAST_SHOWN, arg=last, polling="raf", timeout=TIMEOUT_MS)
                elapsed = time.perf_counter() - started
                await asyncio.sleep(SETTLE)
                if run:
                    got["open_s"].append(elapsed)
                    got["open_bytes"].append(received.total)
            for run in range(runs + 1):  # the first send is a warm-up
                assistants = await page.locator('#messages [data-role="assistant"]').count()
                await page.locator("textarea#message-input").fill(f"Bench question {run}: what next?")
                await asyncio.sleep(SETTLE)
                received.total = 0
                started = time.perf_counter()
                await page.get_by_role("button", name="Send").click()
                await page.wait_for_function(FINISHED, arg=assistants, polling="raf", timeout=TIMEOUT_MS)
                elapsed = time.perf_counter() - started
                await asyncio.sleep(SETTLE)
                if run:
                    got["send_s"].append(elapsed)
                    got["send_bytes"].append(received.total)
            figures[size] = got
        await browser.close()
    return figures


def _size(value: float) -> str:
    for unit, scale in (("MB", 1e6), ("kB", 1e3)):
        if value >= scale:
            return f"{value / scale:.1f} {unit}"
    return f"{value:.0f} B"


def report(figures: dict[int, dict[str, list[float]]], runs: int) -> None:
    small, large = SIZES
    rows = (
        ("open: navigation -> last message shown", "open_s", lambda v: f"{v * 1000:.0f} ms"),
        ("open: websocket bytes received", "open_bytes", _size),
        ("send: Send -> reply finished", "send_s", lambda v: f"{v * 1000:.0f} ms"),
        ("send: websocket bytes received", "send_bytes", _size),
    )
    print(f"long conversations: median of {runs} runs (fake provider: 50 ms first token, 40 words)")
    print(f"  {'':40} {f'{small:,} msgs':>12} {f'{large:,} msgs':>12} {f'ratio {large}/{small}':>14}")
    for label, key, fmt in rows:
        a, b = statistics.median(figures[small][key]), statistics.median(figures[large][key])
        ratio = f"{b / a:.1f}x" if a else "-"
        print(f"  {label:40} {fmt(a):>12} {fmt(b):>12} {ratio:>14}")


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5, help="measured opens and sends per conversation")
    args = parser.parse_args()
    from services.setup import setup

    setup()
    seeded = asyncio.run(seed())
    with FakeLLMServer() as llm:
        llm.configure(reply=REPLY, first_token_delay=0.05, tokens_per_second=400)
        port = free_port()
        proc = start_app(port, llm)
        try:
            figures = asyncio.run(measure(port, seeded, args.runs))
        finally:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(30)
    report(figures, args.runs)


if __name__ == "__main__":
    main()
