"""Time to first token added by the app, as a user sees it.

Starts the fake OpenAI-compatible provider (first token after 200 ms, then 100 tokens/s) and the app
(`reflex run --env prod`, one port) on the embedded database, signs a user up in Chromium, then, N rounds:
opens a new chat (the sidebar's "New chat" link, no page reload), sends its first message, then, 1.5 s
later, a follow-up in the same conversation. For each: added = (first reply text visible in the page - Send clicked)
- the provider's own 200 ms. Prints the figures for the first message of a new chat and for a follow-up
(median, p95), and the gaps between visible updates while a reply streams (the app flushes every 50 ms).

Run: `make bench-ttft` (or `python bench/ttft.py --runs 20`).
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import time
import uuid
import warnings
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR")

from bench.startup import free_port, p95  # noqa: E402
from tests.fakes.llm_server import FakeLLMServer  # noqa: E402

FIRST_TOKEN = 0.2
RATE = 100.0
PAUSE = 1.5  # seconds between a reply and the follow-up
WATCH = """
() => new Promise(resolve => {
  const stamps = []; let last = ''; let t0 = 0;
  const read = () => {
    const el = document.querySelector('#streaming-reply');
    if (!el) { if (stamps.length) { observer.disconnect(); resolve(stamps); } return; }
    const text = el.querySelector('.rt-Spinner') ? '' : el.innerText;
    if (text && text !== last) { stamps.push(performance.now() - t0); last = text; }
  };
  const observer = new MutationObserver(read);
  observer.observe(document.body, {subtree: true, childList: true, characterData: true});
  t0 = performance.now();
  document.querySelector('button[type=submit]').click();
})
"""


def start_app(port: int, llm: FakeLLMServer) -> subprocess.Popen:  # type: ignore[type-arg]
    """The app as `make run` starts it (`scripts/run.sh`: build the frontend when needed, then the backend
    alone), built into `.web-bench` like the startup bench, against the fake provider."""
    endpoints = [{"id": "fake", "label": "Fake", "base_url": llm.openai_base_url, "models": ["fake-model"]}]
    env = {
        **os.environ,
        "PORT": str(port),
        "HOST": "127.0.0.1",
        "REFLEX_WEB_WORKDIR": str(ROOT / ".web-bench"),
        "LLM_ENDPOINTS": json.dumps(endpoints),
    }
    log = (ROOT / ".data" / "bench-app.log").open("w")
    proc = subprocess.Popen(
        ["bash", str(ROOT / "scripts" / "run.sh")],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        if proc.poll() is not None:
            break
        time.sleep(0.2)
    raise SystemExit(f"the app did not start: see {log.name}")


async def measure(port: int, runs: int, concurrent: int) -> tuple[dict[str, list[float]], list[float]]:
    """`runs` rounds; in each, `concurrent` tabs (one signed-in user) send at the same moment."""
    from playwright.async_api import async_playwright

    base = f"http://127.0.0.1:{port}"
    async with async_playwright() as p:
        browser = await p.chromium.launch(
            executable_path="/usr/bin/chromium",
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--no-first-run",
                "--disable-renderer-backgrounding",
                "--disable-background-timer-throttling",
                "--disable-backgrounding-occluded-windows",
            ],
        )
        context = await browser.new_context()
        first = await context.new_page()
        email = f"bench-{uuid.uuid4().hex[:8]}@example.com"
        await first.goto(base + "/signup")
        await first.get_by_label("Email").fill(email)
        await first.get_by_label("Password").fill("benchmark password 1")
        await first.get_by_role("button", name="Sign up").click()
        await first.get_by_text("Almost done").or_(first.get_by_label("Message")).first.wait_for()
        if not await first.get_by_label("Message").count():  # sign-up sends a confirmation, then log in
            await first.goto(base + "/login")
            await first.get_by_label("Email").fill(email)
            await first.get_by_label("Password").fill("benchmark password 1")
            await first.get_by_role("button", name="Log in").click()
        await first.get_by_label("Message").wait_for()
        pages = [first]
        for _ in range(concurrent - 1):
            page = await context.new_page()
            await page.goto(base + "/")
            await page.get_by_label("Message").wait_for()
            pages.append(page)

        async def one(page, i: int) -> list[float]:  # type: ignore[no-untyped-def]
            await page.get_by_label("Message").fill(f"question {i}")
            stamps = await page.evaluate(WATCH)
            await page.get_by_role("button", name="Send").wait_for(timeout=60_000)
            return list(stamps)

        async def new_chat(page) -> None:  # type: ignore[no-untyped-def]
            if re.search(r"/$", page.url):
                return  # already on a new chat (just signed up)
            await page.locator('a[href="/"]').filter(has_text="New chat").click()
            await page.wait_for_url(re.compile(r"/$"))
            await page.get_by_role("heading", name="How can I help?").wait_for()
            await asyncio.sleep(0.3)  # the page's on_load has run (a user does not type within 300 ms)

        added: dict[str, list[float]] = {"new": [], "follow": []}
        gaps: list[float] = []
        for i in range(runs + 2):  # two warm-up rounds
            await asyncio.gather(*(new_chat(page) for page in pages))
            for kind in ("new", "follow"):
                if kind == "follow":  # a user reads the reply first; the chat's title request ends meanwhile
                    await asyncio.sleep(PAUSE)
                for stamps in await asyncio.gather(*(one(page, i) for page in pages)):
                    if i >= 2:
                        added[kind].append(stamps[0] - FIRST_TOKEN * 1000)
                        gaps += [b - a for a, b in itertools.pairwise(stamps)]
        await browser.close()
    return added, gaps


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument(
        "--runs", type=int, default=20, help="rounds (each: a new chat's first message, then a follow-up)"
    )
    parser.add_argument("--concurrent", type=int, default=1, help="tabs streaming at the same time")
    args = parser.parse_args()
    from services.setup import setup

    setup()
    with FakeLLMServer() as llm:
        llm.configure(
            reply=" ".join(f"w{i}" for i in range(60)), first_token_delay=FIRST_TOKEN, tokens_per_second=RATE
        )
        port = free_port()
        proc = start_app(port, llm)
        try:
            added, gaps = asyncio.run(measure(port, args.runs, args.concurrent))
        finally:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(30)
    provider = f"provider: {FIRST_TOKEN * 1000:.0f} ms first token, {RATE:.0f} tokens/s"
    print(
        f"first token added by the app ({args.runs} rounds x {args.concurrent} concurrent chats, {provider}):"
    )
    for kind, label in (("new", "first message of a new chat"), ("follow", "follow-up in the same chat")):
        figures = added[kind]
        print(f"  {label}: median {statistics.median(figures):.0f} ms, p95 {p95(figures):.0f} ms")
    print(
        f"gap between visible updates while streaming: median {statistics.median(gaps):.0f} ms, "
        f"p95 {p95(gaps):.0f} ms (provider: {1000 / RATE:.0f} ms between tokens; app flushes every 50 ms)"
    )


if __name__ == "__main__":
    main()
