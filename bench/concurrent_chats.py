"""N chats streaming at the same time through the app's websocket (Socket.IO, as the browser speaks it).

A browser per chat would measure Chromium on 2 cores, not the app; so each chat here is a light Socket.IO
client (python-socketio) that hydrates like the Reflex frontend, sends the chat `send` event and watches the
state deltas of the streaming text. The fake provider answers every chat after 200 ms at 100 tokens/s.
Printed: first token added by the app (first streamed text received - event sent - the provider's 200 ms),
and the gaps between streamed updates, median and p95, against the provider's own 10 ms between tokens.

Run: `make bench-concurrent` (or `python bench/concurrent_chats.py --chats 50 --rounds 3`).
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import signal
import statistics
import sys
import time
import uuid
import warnings
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR")

import socketio  # noqa: E402

from bench.startup import free_port, p95  # noqa: E402
from bench.ttft import FIRST_TOKEN, RATE, start_app  # noqa: E402
from tests.fakes.llm_server import FakeLLMServer  # noqa: E402

NAMESPACE = "/_event"  # Reflex's Socket.IO namespace (and path)
ROOT_STATE = "reflex___state____state"
CHAT = f"{ROOT_STATE}.state___chat____chat_state"
STREAM = f"{ROOT_STATE}.state___chat____stream_state"
REPLY = f"{ROOT_STATE}.state___chat_stream____reply_state"  # sends and streams (state/chat_stream.py)


async def provider_ttft(cookie: str) -> list[float]:
    """What the app measured as the provider's own time to first token (request sent -> first text), for
    every reply of the bench user: the part of the latency that is the provider's (and its SDK's)."""
    from sqlalchemy import text

    from services import tenants
    from services.auth.accounts import authenticate
    from services.db import global_session, tenant_session

    async with global_session() as session:
        tenant = await tenants.get_by_slug(session, "default")
    assert tenant is not None
    ctx = await authenticate(tenant.id, cookie)
    assert ctx is not None
    async with tenant_session(tenant.id) as session:
        rows = await session.execute(
            text(
                "SELECT m.ttft_ms FROM messages m JOIN conversations c ON c.id = m.conversation_id "
                "WHERE c.user_id = :u AND m.role = 'assistant' AND m.ttft_ms IS NOT NULL ORDER BY m.created_at"
            ),
            {"u": ctx.user_id},
        )
        return [float(r[0]) for r in rows]


async def make_session(port: int) -> str:
    """A user and a session cookie, made through the services (the sign-up form is tested elsewhere)."""
    from services import tenants
    from services.auth.accounts import create_user, start_session
    from services.context import TenantCtx
    from services.db import global_session, tenant_session

    async with global_session() as session:
        tenant = await tenants.get_by_slug(session, "default")
    assert tenant is not None
    tctx = TenantCtx(tenant_id=tenant.id, ip="127.0.0.1", user_agent="bench")
    async with tenant_session(tenant.id) as session:  # as `solo user create` (sign-up may be closed)
        user = await create_user(session, tenant.id, email=f"bench-{uuid.uuid4().hex[:8]}@example.com")
        token, _ = await start_session(session, tctx, user.id)
    return token


class ChatClient:
    def __init__(self, port: int, cookie: str) -> None:
        self.port, self.cookie = port, cookie
        self.sio = socketio.AsyncClient(
            reconnection=False,
            logger=bool(os.environ.get("SIO_DEBUG")),
            engineio_logger=bool(os.environ.get("SIO_DEBUG")),
        )
        self.token = str(uuid.uuid4())
        self.stamps: list[float] = []
        self.done = asyncio.Event()
        self.ready = asyncio.Event()
        self.text = ""
        self.streaming = False
        self.sio.on("event", self._on_event, namespace=NAMESPACE)

    def _event(self, name: str, payload: dict[str, Any] | None = None) -> dict[str, Any]:
        return {
            "name": name,
            "payload": payload or {},
            "router_data": {"pathname": "/", "asPath": "/", "query": {}},
        }

    async def connect(self) -> None:
        await self.sio.connect(
            f"http://127.0.0.1:{self.port}?token={self.token}",
            socketio_path="/_event",
            transports=["websocket"],
            headers={"Cookie": f"solo_session={self.cookie}"},
            auth={"event": self._event(f"{ROOT_STATE}.hydrate_and_load")},
            namespaces=[NAMESPACE],
            wait_timeout=30,
        )
        await asyncio.wait_for(self.ready.wait(), 30)

    async def _on_event(self, data: Any) -> None:
        now = time.perf_counter()
        delta = (data or {}).get("delta") or {}
        chat = delta.get(CHAT) or {}
        if chat.get("model_key_rx_state_"):
            self.ready.set()
        if "streaming_rx_state_" in chat:
            self.streaming = bool(chat["streaming_rx_state_"])
            if not self.streaming and self.stamps:
                self.done.set()
        text = (delta.get(STREAM) or {}).get("text_rx_state_")
        if text and text != self.text:
            self.text = text
            self.stamps.append(now)

    async def ask(self, text: str) -> list[float]:
        self.stamps, self.text = [], ""
        self.done.clear()
        sent = time.perf_counter()
        await self.sio.emit(
            "event", self._event(f"{REPLY}.send", {"form": {"message": text}}), namespace=NAMESPACE
        )
        await asyncio.wait_for(self.done.wait(), 120)
        return [(t - sent) * 1000 for t in self.stamps]


async def measure(port: int, chats: int, rounds: int) -> tuple[list[float], list[float], list[float]]:
    cookie = await make_session(port)
    clients = [ChatClient(port, cookie) for _ in range(chats)]
    await asyncio.gather(*(c.connect() for c in clients))
    added: list[float] = []
    gaps: list[float] = []
    for r in range(rounds + 1):  # the first round warms up
        results = await asyncio.gather(*(c.ask(f"question {r}") for c in clients))
        if r:
            for stamps in results:
                added.append(stamps[0] - FIRST_TOKEN * 1000)
                gaps += [b - a for a, b in itertools.pairwise(stamps)]
    await asyncio.gather(*(c.sio.disconnect() for c in clients))
    own = (await provider_ttft(cookie))[chats:]  # leave out the warm-up round
    return added, gaps, own


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--chats", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=3)
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
            added, gaps, own = asyncio.run(measure(port, args.chats, args.rounds))
        finally:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(30)
    print(
        f"{args.chats} concurrent chats x {args.rounds} rounds: first token added by the app: median "
        f"{statistics.median(added):.0f} ms, p95 {p95(added):.0f} ms (provider's own: {FIRST_TOKEN * 1000:.0f} ms)"
    )
    print(
        f"  the provider's own first token as the app saw it (its SDK and the loopback fake included): median "
        f"{statistics.median(own):.0f} ms, p95 {p95(own):.0f} ms; so the app's own share: median "
        f"{statistics.median(added) + FIRST_TOKEN * 1000 - statistics.median(own):.0f} ms"
    )
    print(
        f"gap between streamed updates: median {statistics.median(gaps):.0f} ms, p95 {p95(gaps):.0f} ms "
        f"(provider's own: {1000 / RATE:.0f} ms between tokens; the app sends at most one update per 50 ms)"
    )


if __name__ == "__main__":
    main()
