"""The agent runner's own cost: per tool step, and on the first token.

In its own database (bench/knowledge.py's, dropped at the end). The model is the fake OpenAI-compatible server,
here in this process (its scripted replies are functions) and as fast as it goes, so what is timed is ours: the
reply turn, the tool loop, the registry and the SDK.

1. Per tool step: an agent with a cheap tool (the real `current_time`, through the registry) whose model calls it
   --steps times in a turn and then answers. For each step, the time from the tool's result to the arrival of
   the next model request at the fake server (feeding the result back: building the request, the SDK, the
   loopback HTTP). Target: under 10 ms p95.
2. First token: the same question through the reply turn as a plain chat and as an agent chat (instructions and
   three tools offered; the model answers at once), time to the first text. Target: the agent within 20 ms of
   plain chat (p50 and p95 printed for both).

Run: `make bench-agents` (`BENCH_ARGS="--turns 20"` for a short run).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import uuid
from dataclasses import replace
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.chat_db import p95  # noqa: E402
from bench.knowledge import make_users, with_fake_and_database  # noqa: E402

STEP_TARGET_MS = 10.0
FIRST_TOKEN_TARGET_MS = 20.0


def _tool_results(body: dict[str, Any]) -> int:
    return sum(1 for m in body.get("messages", []) if m.get("role") == "tool")


async def run(turns: int, steps: int) -> None:
    from services import ai_catalog
    from services.agents import runner, store
    from services.agents.store import AgentDraft, ToolChoice
    from services.context import Ctx
    from services.db import dispose_all
    from services.llm import ToolCall
    from services.turns import AgentRun, ToolRun, UserMessage, run_turn
    from tests.fakes.llm_server import FakeLLMServer, FakeToolCall

    arrivals: list[float] = []
    returned: list[float] = []
    with FakeLLMServer() as fake:

        def reply(body: dict[str, Any]) -> str:
            arrivals.append(time.perf_counter())
            return "Done." if not body.get("tools") or _tool_results(body) >= steps else ""

        def calls(body: dict[str, Any]) -> list[FakeToolCall]:
            if not body.get("tools") or _tool_results(body) >= steps:
                return []
            return [FakeToolCall("current_time", {}, id=f"c{_tool_results(body)}")]

        fake.configure(reply=reply, tool_calls=calls)
        try:
            tenant_id, (user_id,) = await make_users(["owner@example.com"], slug_suffix="agents")
            ctx = Ctx(tenant_id=tenant_id, user_id=user_id, role="owner")
            await ai_catalog.save_workspace_provider(
                ctx, provider_id="bench", kind="openai_compatible", label="Bench", base_url=fake.openai_base_url,
                api_key="k", models=["m"],
            )  # fmt: skip
            agent = await store.create_agent(
                ctx,
                AgentDraft(
                    "Clock", instructions="You tell the time. " * 20, max_steps=steps + 1,
                    tools=(ToolChoice("current_time"), ToolChoice("calculator"), ToolChoice("file_search")),
                ),
            )  # fmt: skip
            prepared = await runner.prepare(ctx, agent, None)
            assert prepared.execute is not None
            inner = prepared.execute

            async def timed_execute(call: ToolCall) -> ToolRun:
                result = await inner(call)
                returned.append(time.perf_counter())
                return result

            timed = replace(prepared, execute=timed_execute)

            async def ask(agent_run: AgentRun | None, words: str) -> float:
                cid, mid = uuid.uuid4(), uuid.uuid4()
                first: list[float] = []

                async def on_text(_text: str) -> None:
                    if not first:
                        first.append(time.perf_counter())

                started = time.perf_counter()
                result = await run_turn(
                    ctx, cid, mid, "bench/m", on_text=on_text,
                    user=UserMessage(mid, None, words, new_conversation=True), agent=agent_run,
                )  # fmt: skip
                if result.failed:
                    raise SystemExit(f"a bench turn failed: {result.error}")
                return (first[0] - started) * 1000 if first else float("nan")

            # 1. Tool steps.
            for _ in range(3):
                await ask(timed, "What time is it?")  # warm up
            gaps: list[float] = []
            for _ in range(turns):
                arrivals.clear()
                returned.clear()
                await ask(timed, "What time is it?")
                # Request i+1 arrives after the result of step i (one call per step).
                gaps += [(arrivals[i + 1] - returned[i]) * 1000 for i in range(len(returned))]
            ok = p95(gaps) <= STEP_TARGET_MS
            print(
                f"runner overhead per tool step ({len(gaps)} steps): p50 {statistics.median(gaps):5.2f} ms   "
                f"p95 {p95(gaps):5.2f} ms   ({'target met' if ok else 'target missed'}: {STEP_TARGET_MS:.0f} ms p95)"
            )

            # 2. First token, plain vs agent (the model answers at once: no tool results needed).
            fake.configure(
                reply=lambda body: (arrivals.append(time.perf_counter()), "Hello there.")[1], tool_calls=()
            )
            answering = prepared
            plain: list[float] = []
            agentic: list[float] = []
            for i in range(turns * 2):
                order = (None, answering) if i % 2 == 0 else (answering, None)
                for run_with in order:
                    took = await ask(run_with, "Hello, how are you today?")
                    (plain if run_with is None else agentic).append(took)
            d50 = statistics.median(agentic) - statistics.median(plain)
            d95 = p95(agentic) - p95(plain)
            print(
                f"first token, plain chat: p50 {statistics.median(plain):6.2f} ms   p95 {p95(plain):6.2f} ms"
            )
            print(
                f"first token, agent chat: p50 {statistics.median(agentic):6.2f} ms   p95 {p95(agentic):6.2f} ms   "
                f"(agent - plain: p50 {d50:+.2f} ms, p95 {d95:+.2f} ms; "
                f"{'target met' if d95 <= FIRST_TOKEN_TARGET_MS else 'target missed'}: within "
                f"{FIRST_TOKEN_TARGET_MS:.0f} ms)"
            )
        finally:
            await dispose_all()


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--turns", type=int, default=60)
    parser.add_argument("--steps", type=int, default=4, help="tool steps per turn")
    args = parser.parse_args()
    os.environ["SOLO_OUTBOUND_ALLOW"] = "127.0.0.0/8"  # the in-process fake listens on loopback
    with_fake_and_database("solo-bench-agents-", lambda _socket, _folder: run(args.turns, args.steps))


if __name__ == "__main__":
    main()
