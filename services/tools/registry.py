"""The tools agents may call, by name, and the one way to run them.

`execute` is what the agent runner calls for each tool call the model makes. It never raises for a tool's
failure (bad JSON, arguments that do not match the schema, a timeout, a `ToolError`, a bug): each becomes a
`ToolResult` with an `error` the model can read and act on, so one bad call does not end the turn. Only
cancellation (Stop, a disconnect) propagates.

The built-in tools are registered when this module is imported. Tools of connections (Composio, MCP) will be
per tenant and are not kept here; they share `Tool`, `spec` and `execute`.
"""

from __future__ import annotations

import asyncio
import copy
import json
import logging
import math
import random
import re
import time
import weakref
from collections.abc import Awaitable, Callable, Collection, Iterable, Mapping
from typing import Any, TypeVar

from jsonschema import SchemaError
from jsonschema import ValidationError as SchemaViolation
from jsonschema.protocols import Validator
from jsonschema.validators import Draft202012Validator, validator_for

from services.errors import NotFound, ServiceError
from services.tools import settings as tool_settings
from services.tools.base import NAME_PATTERN, Tool, ToolContext, ToolError, ToolResult

log = logging.getLogger("solo.tools")

MAX_ATTEMPTS = 3
BASE_DELAY = 0.25  # seconds before the second attempt (then doubled), with jitter
MAX_ARGUMENT_CHARS = 64_000
MAX_PROBLEMS = 8  # schema problems named in one error

T = TypeVar("T", bound=Tool)

_tools: dict[str, Tool] = {}
_validators: weakref.WeakKeyDictionary[Tool, Validator] = weakref.WeakKeyDictionary()


def _validator(tool: Tool) -> Validator:
    """The schema's validator, built once per tool (the draft its `$schema` names, else 2020-12)."""
    found = _validators.get(tool)
    if found is None:
        cls = validator_for(tool.parameters, default=Draft202012Validator)
        found = _validators[tool] = cls(tool.parameters)
    return found


def check_tool(tool: Tool) -> None:
    """Refuse a tool that would confuse a provider or the model; raises ValueError (a programming error)."""
    name = getattr(tool, "name", None)
    if not isinstance(name, str) or not NAME_PATTERN.match(name):
        raise ValueError(f"tool name {name!r} must match {NAME_PATTERN.pattern}")
    if not isinstance(getattr(tool, "description", None), str) or not tool.description.strip():
        raise ValueError(f"tool {name!r} needs a description: the model reads it to decide when to call it")
    params = getattr(tool, "parameters", None)
    if not isinstance(params, dict) or params.get("type") != "object":
        raise ValueError(f"tool {name!r}: parameters must be a JSON Schema of type object")
    try:
        validator_for(params, default=Draft202012Validator).check_schema(params)
    except SchemaError as err:
        raise ValueError(f"tool {name!r}: parameters are not a valid JSON Schema: {err.message}") from err
    if not isinstance(tool.timeout, int | float) or not (0 < tool.timeout < math.inf):
        raise ValueError(f"tool {name!r}: timeout must be a positive number of seconds")
    if not isinstance(tool.needs, str):
        raise ValueError(f"tool {name!r}: needs must be a string")
    for setting, schema in tool.settings_schema.items():
        if setting in tool_settings.RESERVED or not isinstance(schema, dict):
            raise ValueError(f"tool {name!r}: setting {setting!r} is reserved or has no schema")


def register(tool: T, *, replace: bool = False) -> T:
    """Add a tool under its name (checked first). A second tool of the same name is refused unless `replace`."""
    check_tool(tool)
    if tool.name in _tools and not replace:
        raise ValueError(f"a tool named {tool.name!r} is already registered")
    _tools[tool.name] = tool
    _validators.pop(tool, None)
    return tool


def unregister(name: str) -> None:
    """Remove a tool (tests register their own and remove them after)."""
    _tools.pop(name, None)


def find(name: str) -> Tool | None:
    return _tools.get(name)


def get(name: str) -> Tool:
    tool = _tools.get(name)
    if tool is None:
        raise NotFound(f"There is no tool named {name!r}.")
    return tool


def list_tools() -> list[Tool]:
    """Every registered tool, by name (the builder's tool picker)."""
    return [_tools[n] for n in sorted(_tools)]


def spec(tool: Tool, settings: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The neutral form `normalize_tool` accepts, with an agent's settings for the tool (its author's guidance,
    its fixed parameters taken out); a copy, so an adapter cannot change the tool's schema."""
    return tool_settings.spec(tool, settings)


def specs(tools: Iterable[Tool]) -> list[dict[str, Any]]:
    return [spec(t) for t in tools]


# --- arguments -------------------------------------------------------------------------------------------


def _reject_constant(value: str) -> Any:
    raise ValueError(f"{value} is not a JSON number")


def _field(path: Iterable[Any]) -> str:
    """`items[0].name` for the path (key, index, key)."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _short(text: str, limit: int = 200) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _problems(errors: Iterable[SchemaViolation]) -> list[str]:
    """One line per problem, each naming its field. jsonschema reports a missing or unexpected property on the
    object that holds it, so those are named here by the property itself."""
    found: dict[str, str] = {}
    for error in sorted(errors, key=lambda e: [str(p) for p in e.absolute_path]):
        at = list(error.absolute_path)
        instance = error.instance
        if error.validator == "required" and isinstance(instance, dict):
            for name in error.validator_value:
                if name not in instance:
                    found.setdefault(_field([*at, name]), " is required")
        elif error.validator == "additionalProperties" and isinstance(instance, dict):
            schema = error.schema if isinstance(error.schema, dict) else {}
            known = set(schema.get("properties") or {})
            patterns = [re.compile(p) for p in schema.get("patternProperties") or {}]
            for name in instance:
                if name not in known and not any(p.search(name) for p in patterns):
                    found.setdefault(_field([*at, name]), " is not a parameter of this tool")
        else:
            found.setdefault(_field(at) or "(the arguments)", ": " + _short(error.message))
    return [name + problem for name, problem in found.items()]


def parse_arguments(
    tool: Tool, arguments_json: str, settings: Mapping[str, Any] | None = None
) -> dict[str, Any] | ToolResult:
    """The model's argument text as a dict that matches the tool's schema (with the agent's fixed values set),
    or an error result saying what to fix. Empty text counts as `{}` (some models send nothing for a tool
    without parameters)."""
    if len(arguments_json) > MAX_ARGUMENT_CHARS:
        return ToolResult(
            error=f"The arguments are too long ({len(arguments_json):,} characters; at most "
            f"{MAX_ARGUMENT_CHARS:,}). Send shorter arguments."
        )
    try:
        arguments = json.loads(arguments_json or "{}", parse_constant=_reject_constant)
    except json.JSONDecodeError as err:
        return ToolResult(
            error=f"The arguments are not valid JSON ({err.msg} at line {err.lineno}, column {err.colno}). "
            f"Call {tool.name} again with one JSON object that matches its parameters."
        )
    except ValueError as err:
        return ToolResult(error=f"The arguments are not valid JSON ({err}). Call {tool.name} again.")
    if not isinstance(arguments, dict):
        return ToolResult(
            error=f"The arguments must be a JSON object (such as {{}}), not {type(arguments).__name__}. "
            f"Call {tool.name} again with an object that matches its parameters."
        )
    arguments = tool_settings.arguments(settings or {}, arguments)
    problems = _problems(_validator(tool).iter_errors(arguments))
    if problems:
        shown = problems[:MAX_PROBLEMS]
        more = f"; and {len(problems) - len(shown)} more" if len(problems) > len(shown) else ""
        return ToolResult(
            data={"problems": problems},
            error=f"The arguments do not match the parameters of {tool.name}: {'; '.join(shown)}{more}. "
            "Call it again with arguments that match its schema.",
        )
    return arguments


# --- running ---------------------------------------------------------------------------------------------


async def execute(
    tool: Tool,
    call: ToolContext,
    arguments_json: str,
    *,
    sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
    rand: Callable[[], float] = random.random,
) -> ToolResult:
    """Run one call of `tool` and return its result, failures included, with `duration_ms` (parsing to the
    end, backoff included) and `attempts`. `sleep` and `rand` are seams for tests."""
    started = time.perf_counter()
    result = await _execute(tool, call, arguments_json, sleep, rand)
    result.duration_ms = round((time.perf_counter() - started) * 1000, 1)
    return result


async def execute_named(
    name: str,
    call: ToolContext,
    arguments_json: str,
    *,
    allowed: Collection[str] | None = None,
    sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
) -> ToolResult:
    """`execute` for the name a model called: a name that is not registered, or not in `allowed` (the
    agent's tools), is an error result listing the tools it may call, so the model can correct itself."""
    tool = _tools.get(name)
    if tool is None or (allowed is not None and name not in allowed):
        names = sorted(allowed) if allowed is not None else sorted(_tools)
        choice = ", ".join(names) if names else "none"
        return ToolResult(error=f"There is no tool named {name!r} here. The tools you may call: {choice}.")
    return await execute(tool, call, arguments_json, sleep=sleep)


def _backoff(attempt: int, rand: Callable[[], float]) -> float:
    """Exponential with 'equal jitter': half the step fixed, half random, so retries of many calls spread."""
    step = BASE_DELAY * 2 ** (attempt - 1)
    return step / 2 + rand() * step / 2


async def _execute(
    tool: Tool,
    call: ToolContext,
    arguments_json: str,
    sleep: Callable[[float], Awaitable[object]],
    rand: Callable[[], float],
) -> ToolResult:
    arguments = parse_arguments(tool, arguments_json, call.settings)
    if isinstance(arguments, ToolResult):
        return arguments
    limit = tool_settings.timeout(tool, call.settings)
    attempt = 0
    while True:
        attempt += 1
        scope = asyncio.timeout(limit)
        try:
            async with scope:
                result = await tool.run(call, copy.deepcopy(arguments))
            if not isinstance(result, ToolResult):
                raise TypeError(f"run returned {type(result).__name__}, not a ToolResult")
            json.dumps(result.data)  # the card stores it: a bug here is the tool's, found now
        except ToolError as err:
            if err.retryable and attempt < MAX_ATTEMPTS:
                log.info("tool %s: retryable error on attempt %d: %s", tool.name, attempt, err.message)
                await sleep(_backoff(attempt, rand))
                continue
            tried = f" (tried {attempt} times)" if attempt > 1 else ""
            return ToolResult(error=f"{err.message}{tried}", attempts=attempt)
        except TimeoutError:
            if not scope.expired():  # the tool's own timeout (a request it made), not ours
                log.exception("tool %s failed", tool.name)
                return ToolResult(error=_unexpected(tool), attempts=attempt)
            log.warning("tool %s: timed out after %gs", tool.name, limit)
            return ToolResult(
                error=f"The tool {tool.name} took too long (more than {limit:g} seconds) and was "
                "stopped. Try a simpler request, or answer without it.",
                attempts=attempt,
            )
        except ServiceError as err:  # written for people (no permission, not found): the model may read it
            return ToolResult(error=str(err), attempts=attempt)
        except Exception:
            log.exception("tool %s failed", tool.name)
            return ToolResult(error=_unexpected(tool), attempts=attempt)
        result.bound()
        result.attempts = attempt
        return result


def _unexpected(tool: Tool) -> str:
    return (
        f"The tool {tool.name} failed with an unexpected error (it has been logged). "
        "Answer without it, or try again later."
    )


def _register_builtins() -> None:
    from services.tools.builtin import BUILTINS

    for tool in BUILTINS:
        register(tool, replace=True)


_register_builtins()
