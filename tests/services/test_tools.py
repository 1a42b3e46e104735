"""The tool registry and its runner (bad JSON, schema errors, timeouts, retries, failures, cancellation) and the
built-in tools: the calculator's values and refusals, the time in zones, and file search over a real ingested
file under the member's permissions."""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from services.context import Ctx
from services.llm.base import normalize_tool
from services.tools import registry
from services.tools.base import MAX_RESULT_CHARS, Tool, ToolContext, ToolError, ToolResult
from services.tools.builtin import CurrentTime, calculate
from tests.fakes.documents import make_pdf
from tests.services.test_chat_support import new_ctx
from tests.services.test_knowledge import PAGES
from tests.services.test_knowledge_turns import member, stored_file


def anyone() -> ToolContext:
    """A call context for tools that touch no data (no database row behind these ids)."""
    return ToolContext(ctx=Ctx(tenant_id=uuid.uuid4(), user_id=uuid.uuid4(), role="member"))


class Sleeps:
    """The injected sleep: records the delays and returns at once."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, delay: float) -> None:
        self.delays.append(delay)


class SlowTool(Tool):
    name = "test_slow"
    description = "Sleeps far longer than it may."
    timeout = 0.05

    def __init__(self) -> None:
        self.started = asyncio.Event()

    async def run(self, call: ToolContext, arguments: dict[str, Any]) -> ToolResult:
        self.started.set()
        await asyncio.sleep(30)
        return ToolResult(text="never")


class FlakyTool(Tool):
    name = "test_flaky"
    description = "Fails (retryably) a given number of times, then works."
    parameters = {"type": "object", "properties": {"word": {"type": "string"}}, "required": ["word"]}

    def __init__(self, failures: int, retryable: bool = True) -> None:
        self.failures, self.retryable, self.calls = failures, retryable, 0

    async def run(self, call: ToolContext, arguments: dict[str, Any]) -> ToolResult:
        self.calls += 1
        if self.calls <= self.failures:
            raise ToolError("The service is busy; try again.", retryable=self.retryable)
        return ToolResult(text=f"got {arguments['word']}", data={"calls": self.calls})


class BrokenTool(Tool):
    name = "test_broken"
    description = "Has a bug."

    async def run(self, call: ToolContext, arguments: dict[str, Any]) -> ToolResult:
        raise RuntimeError("connection string postgres://secret@db/internal")


class OwnTimeoutTool(Tool):
    name = "test_own_timeout"
    description = "A request of its own times out (not the registry's timeout)."

    async def run(self, call: ToolContext, arguments: dict[str, Any]) -> ToolResult:
        raise TimeoutError("upstream")


class ChattyTool(Tool):
    name = "test_chatty"
    description = "Returns far too much text."

    async def run(self, call: ToolContext, arguments: dict[str, Any]) -> ToolResult:
        return ToolResult(text="word " * 10_000, data={"n": 1})


@pytest.fixture
def slow() -> Iterator[SlowTool]:
    tool = registry.register(SlowTool())
    yield tool
    registry.unregister(tool.name)


# --- the registry ----------------------------------------------------------------------------------------


def test_builtins_are_registered_with_specs_the_adapters_accept() -> None:
    names = [t.name for t in registry.list_tools()]
    assert {"calculator", "current_time", "file_search"} <= set(names) and names == sorted(names)
    for tool in registry.list_tools():
        spec = registry.spec(tool)
        assert set(spec) == {"name", "description", "parameters"}
        normalized = normalize_tool(spec)
        assert (normalized.name, normalized.parameters) == (tool.name, tool.parameters)
        assert tool.needs == "" and tool.timeout > 0
    spec = registry.spec(registry.get("calculator"))
    spec["parameters"]["properties"].clear()
    assert registry.get("calculator").parameters["properties"], "a spec is a copy"
    with pytest.raises(Exception, match="no tool named 'nope'"):
        registry.get("nope")


def test_register_refuses_bad_tools() -> None:
    class Bad(Tool):
        name = "Not-OK"
        description = "x"

        async def run(self, call: ToolContext, arguments: dict[str, Any]) -> ToolResult:
            return ToolResult()

    with pytest.raises(ValueError, match="must match"):
        registry.register(Bad())
    Bad.name = "bad_schema"
    Bad.parameters = {"type": "object", "properties": {"a": {"type": "nonsense"}}}
    with pytest.raises(ValueError, match="not a valid JSON Schema"):
        registry.register(Bad())
    with pytest.raises(ValueError, match="already registered"):
        registry.register(CurrentTime())
    assert registry.find("bad_schema") is None


async def test_bad_json_is_an_error_the_model_can_fix() -> None:
    calculator = registry.get("calculator")
    result = await registry.execute(calculator, anyone(), '{"expression": "1+1"')
    assert not result.ok and "not valid JSON" in result.error and "calculator" in result.error
    assert result.model_text().startswith("Error: ")
    result = await registry.execute(calculator, anyone(), '["1+1"]')
    assert "must be a JSON object" in result.error
    result = await registry.execute(calculator, anyone(), '{"expression": NaN}')
    assert "not valid JSON" in result.error
    # Nothing at all counts as no arguments, which the schema then refuses.
    result = await registry.execute(calculator, anyone(), "")
    assert "expression is required" in result.error


async def test_schema_errors_name_their_fields() -> None:
    search = registry.get("file_search")
    result = await registry.execute(search, anyone(), json.dumps({"k": 11, "colour": "red"}))
    assert "query is required" in result.error
    assert "k: 11 is greater than the maximum of 10" in result.error
    assert "colour is not a parameter" in result.error
    assert result.data == {
        "problems": [
            "query is required",
            "colour is not a parameter of this tool",
            "k: 11 is greater than the maximum of 10",
        ]
    }
    result = await registry.execute(registry.get("calculator"), anyone(), '{"expression": 5}')
    assert "expression: 5 is not of type 'string'" in result.error


async def test_a_slow_tool_is_stopped_with_an_error(slow: SlowTool) -> None:
    started = time.perf_counter()
    result = await registry.execute_named("test_slow", anyone(), "{}")
    assert time.perf_counter() - started < 2
    assert "took too long" in result.error and "0.05 seconds" in result.error
    assert result.attempts == 1 and result.duration_ms >= 50


async def test_cancellation_propagates(slow: SlowTool) -> None:
    slow.timeout = 30  # type: ignore[misc]
    task = asyncio.ensure_future(registry.execute(slow, anyone(), "{}"))
    await slow.started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_a_retryable_error_is_retried_with_growing_delays_then_succeeds() -> None:
    tool, sleeps = FlakyTool(failures=2), Sleeps()
    result = await registry.execute(tool, anyone(), '{"word": "hi"}', sleep=sleeps, rand=lambda: 0.5)
    assert result.ok and result.text == "got hi" and result.attempts == 3 and tool.calls == 3
    assert len(sleeps.delays) == 2 and 0 < sleeps.delays[0] < sleeps.delays[1] < 1

    # Still failing after three attempts: the last error, said so.
    tool, sleeps = FlakyTool(failures=5), Sleeps()
    result = await registry.execute(tool, anyone(), '{"word": "hi"}', sleep=sleeps)
    assert result.error == "The service is busy; try again. (tried 3 times)"
    assert tool.calls == 3 and len(sleeps.delays) == 2

    # Not retryable: one attempt, its message as is.
    tool, sleeps = FlakyTool(failures=1, retryable=False), Sleeps()
    result = await registry.execute(tool, anyone(), '{"word": "hi"}', sleep=sleeps)
    assert result.error == "The service is busy; try again." and tool.calls == 1 and not sleeps.delays


async def test_an_unexpected_exception_is_logged_not_shown(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.ERROR, logger="solo.tools"):
        result = await registry.execute(BrokenTool(), anyone(), "{}")
    assert "unexpected error" in result.error and "test_broken" in result.error
    assert (
        "secret" not in result.error
        and "Traceback" not in result.error
        and "RuntimeError" not in result.error
    )
    assert any("secret" in (r.exc_text or "") for r in caplog.records), "the traceback went to the log"
    # A tool's own TimeoutError is a failure of the tool, not "took too long".
    result = await registry.execute(OwnTimeoutTool(), anyone(), "{}")
    assert "unexpected error" in result.error


async def test_a_long_result_is_cut_with_a_note() -> None:
    result = await registry.execute(ChattyTool(), anyone(), "{}")
    assert len(result.text) <= MAX_RESULT_CHARS and "more characters not shown" in result.text
    message = result.as_message("call_1")
    assert (message.role, message.tool_call_id, message.content) == ("tool", "call_1", result.text)


async def test_a_name_the_agent_does_not_have_lists_those_it_has() -> None:
    result = await registry.execute_named("calculator", anyone(), "{}", allowed=["current_time"])
    assert result.error == "There is no tool named 'calculator' here. The tools you may call: current_time."


# --- calculator ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expression", "value"),
    [
        ("2 + 2", 4),
        ("(1299 * 12) * 0.85", 13249.8),
        ("-3 ** 2", -9),
        ("(-3) ** 2", 9),
        ("7 // 2 + 7 % 2", 4),
        ("2 ** 100", 2**100),
        ("2 ** -2", 0.25),
        ("sqrt(16) + abs(-2)", 6.0),
        ("round(2.567, 2)", 2.57),
        ("round(2.5)", 2),
        ("max(1, 5, 3) - min(4, 2)", 3),
        ("log(8, 2)", 3.0),
        ("exp(0) + cos(0) + sin(0) + tan(0)", 2.0),
        ("pi * 2", 6.283185307179586),
        ("2^10", 1024),
        ("+".join(["1"] * 250), 250),
    ],
)
def test_calculator_values(expression: str, value: float) -> None:
    assert calculate(expression) == pytest.approx(value)


@pytest.mark.parametrize(
    ("expression", "says"),
    [
        ("__import__('os').system('id')", "not allowed"),
        ("x + 1", "The name 'x' is not allowed"),
        ("(1).real", "Attribute access is not allowed"),
        ("abs.__class__", "Attribute access is not allowed"),
        ("open('/etc/passwd')", "Calling that is not allowed"),
        ("sqrt(x=4)", "Keyword or starred arguments"),
        ("'a' * 3", "not allowed"),
        ("[1, 2]", "not allowed"),
        ("lambda: 1", "not allowed"),
        ("1 if 1 else 2", "not allowed"),
        ("True + 1", "not allowed"),
        ("1 < 2", "not allowed"),
        ("9**9**9", "too large"),
        ("10**1000 * 10**1000", "too large"),
        ("2.0 ** 5000", "too large"),
        ("exp(1000)", "too large"),
        ("round(5, -10**50)", "between -100 and 100"),
        ("(-8) ** (1/3)", "no real-number result"),
        ("1 / 0", "Division by zero"),
        ("sqrt(-1)", "outside its domain"),
        ("1e999", "not a finite number"),
        ("1 +", "not a valid arithmetic expression"),
        ("", "empty"),
        ("1+" * 300 + "1", "too long"),
        ("sqrt(1, 2)", "sqrt takes 1 argument"),
    ],
)
def test_calculator_refusals(expression: str, says: str) -> None:
    started = time.perf_counter()
    with pytest.raises(ToolError) as refused:
        calculate(expression)
    assert says in refused.value.message
    assert time.perf_counter() - started < 0.5, "refused at once, not after computing"


async def test_calculator_through_the_registry() -> None:
    result = await registry.execute_named("calculator", anyone(), '{"expression": "0.1 + 0.2"}')
    assert result.text == "0.1 + 0.2 = 0.3" and result.data["result"] == pytest.approx(0.3)
    result = await registry.execute_named("calculator", anyone(), '{"expression": "9**9**9"}')
    assert "too large" in result.error and result.attempts == 1


# --- current_time ----------------------------------------------------------------------------------------

NOON_UTC = datetime(2024, 7, 1, 12, 0, tzinfo=UTC)  # a Monday, summer time in Europe and America


@pytest.mark.parametrize(
    ("zone", "iso", "key"),
    [
        (None, "2024-07-01T12:00:00+00:00", "UTC"),
        ("Europe/Lisbon", "2024-07-01T13:00:00+01:00", "Europe/Lisbon"),
        ("America/New_York", "2024-07-01T08:00:00-04:00", "America/New_York"),
        ("asia/tokyo", "2024-07-01T21:00:00+09:00", "Asia/Tokyo"),
        ("Pacific/Kiritimati", "2024-07-02T02:00:00+14:00", "Pacific/Kiritimati"),
    ],
)
async def test_current_time_in_zones(zone: str | None, iso: str, key: str) -> None:
    tool = CurrentTime(clock=lambda: NOON_UTC)
    arguments = json.dumps({"timezone": zone} if zone else {})
    result = await registry.execute(tool, anyone(), arguments)
    assert result.ok, result.error
    assert result.data["iso"] == iso and result.data["timezone"] == key
    assert result.data["utc_offset"] == iso[-6:]
    assert result.text.startswith(iso) and key in result.text
    weekday = "Tuesday" if key == "Pacific/Kiritimati" else "Monday"
    assert result.data["weekday"] == weekday and weekday in result.text


async def test_current_time_defaults_and_unknown_zones() -> None:
    tool = CurrentTime(clock=lambda: NOON_UTC)
    call = ToolContext(ctx=anyone().ctx, settings={"timezone": "Europe/Berlin"})
    result = await registry.execute(tool, call, "{}")
    assert result.data["timezone"] == "Europe/Berlin" and result.data["iso"].endswith("+02:00")
    for bad in ("Mars/Olympus_Mons", "../../etc/passwd", "/etc/localtime", "America"):
        result = await registry.execute(tool, anyone(), json.dumps({"timezone": bad}))
        assert "Unknown time zone" in result.error and "IANA" in result.error, bad


# --- file_search -----------------------------------------------------------------------------------------


async def test_file_search_without_files_says_so() -> None:
    result = await registry.execute_named("file_search", anyone(), '{"query": "refunds"}')
    assert result.ok and "No files are attached to this agent or chat" in result.text
    assert result.data["hits"] == []


async def test_file_search_over_an_ingested_file_and_isolation(  # type: ignore[no-untyped-def]
    tenant, other_tenant, embeddings, no_server_providers, tmp_path
) -> None:
    owner = await member(tenant, embeddings, ["m1"])
    pdf = await stored_file(owner, tmp_path, "Q3 report.pdf", make_pdf(PAGES))
    assert pdf.status == "ready"
    call = ToolContext(ctx=owner, conversation_id=uuid.uuid4(), file_ids=(pdf.id,))
    result = await registry.execute_named("file_search", call, '{"query": "onboarding steps", "k": 2}')
    assert result.ok, result.error
    assert result.text.startswith("[1] Q3 report.pdf, page 2\n") and "five steps" in result.text
    hits = result.data["hits"]
    assert 1 <= len(hits) <= 2 and hits[0]["page"] == 2 and hits[0]["file_id"] == str(pdf.id)
    assert hits[0]["n"] == 1 and hits[0]["file_name"] == "Q3 report.pdf"
    json.dumps(result.data)

    # Another member of the workspace, and a member of another workspace, given the same file id: nothing.
    for ctx in (
        await new_ctx(tenant.id, f"eve-{uuid.uuid4().hex[:6]}@example.com"),
        await new_ctx(other_tenant.id, f"mallory-{uuid.uuid4().hex[:6]}@example.com"),
    ):
        sneaky = ToolContext(ctx=ctx, file_ids=(pdf.id,))
        result = await registry.execute_named("file_search", sneaky, '{"query": "onboarding steps"}')
        assert result.ok and result.data["hits"] == [], result.data
        assert "five steps" not in result.text and "Nothing in the attached files matches" in result.text
