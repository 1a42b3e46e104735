"""Per-tool settings: what an agent's author chooses for each tool it gives the agent (in the builder).

Every tool has three settings, whatever it is:
- `guidance`: a sentence or two added to the description the model reads ("only for questions about prices"),
  so one tool can be meant differently by two agents;
- `timeout`: seconds per attempt, instead of the tool's own (a slow MCP server, a quick lookup);
- `fixed`: values for some of the tool's own parameters (a GoHighLevel location id, the number of passages). A
  fixed parameter is taken out of the schema the model sees and set on every call, whatever the model sends.
A tool may add its own (`Tool.settings_schema`, e.g. `current_time`'s default time zone) and check them further
(`Tool.check_settings`).

Settings are checked as a whole when the agent is saved (`check`, a ValidationError naming the tool and the
setting), and applied when it runs (`spec` for what the model sees, `arguments` and `timeout` in the registry).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from jsonschema.validators import Draft202012Validator, validator_for

from services.errors import ValidationError
from services.tools.base import Tool

MAX_GUIDANCE = 500
MIN_TIMEOUT, MAX_TIMEOUT = 1, 120
MAX_FIXED_TEXT = 2000
RESERVED = ("guidance", "timeout", "fixed")
FIXABLE_TYPES = ("string", "integer", "number", "boolean")


def label(name: str) -> str:
    """ "file_search" -> "File search" (how people read a tool's or a parameter's name)."""
    return name.replace("_", " ").strip().capitalize()


def fixable(tool: Tool) -> dict[str, dict[str, Any]]:
    """The tool's parameters an author may fix: top-level ones of one plain type (or a list of choices)."""
    found: dict[str, dict[str, Any]] = {}
    for name, schema in (tool.parameters.get("properties") or {}).items():
        if not isinstance(schema, dict) or "$ref" in schema:
            continue
        if schema.get("type") in FIXABLE_TYPES or (
            isinstance(schema.get("enum"), list) and all(isinstance(v, str) for v in schema["enum"])
        ):
            found[str(name)] = schema
    return found


def _fail(tool: Tool, what: str, problem: str) -> ValidationError:
    return ValidationError(f"Tool “{label(tool.name)}”, {what}: {problem}")


def _check_value(tool: Tool, what: str, schema: dict[str, Any], value: Any) -> None:
    validator = validator_for(tool.parameters, default=Draft202012Validator)(schema)
    error = next(iter(validator.iter_errors(value)), None)
    if error is not None:
        raise _fail(tool, what, error.message[:200])


def check(tool: Tool, settings: Mapping[str, Any]) -> dict[str, Any]:
    """The settings as stored (empty ones dropped), or a ValidationError saying which one to fix and how."""
    own = tool.settings_schema
    unknown = [k for k in settings if k not in RESERVED and k not in own]
    if unknown:
        raise _fail(tool, f"“{unknown[0]}”", "this tool has no such setting.")
    clean: dict[str, Any] = {}
    guidance = settings.get("guidance")
    if guidance is not None:
        if not isinstance(guidance, str):
            raise _fail(tool, "when to use it", "write it as text.")
        text = " ".join(guidance.split())
        if len(text) > MAX_GUIDANCE:
            raise _fail(tool, "when to use it", f"at most {MAX_GUIDANCE} characters ({len(text)} now).")
        if text:
            clean["guidance"] = text
    timeout = settings.get("timeout")
    if timeout is not None:
        if isinstance(timeout, bool) or not isinstance(timeout, int | float):
            raise _fail(tool, "timeout", "a number of seconds.")
        if not MIN_TIMEOUT <= timeout <= MAX_TIMEOUT:
            raise _fail(tool, "timeout", f"from {MIN_TIMEOUT} to {MAX_TIMEOUT} seconds.")
        clean["timeout"] = timeout
    fixed = settings.get("fixed")
    if fixed is not None:
        if not isinstance(fixed, Mapping):
            raise _fail(tool, "fixed values", "a value per parameter.")
        allowed = fixable(tool)
        kept: dict[str, Any] = {}
        for name, value in fixed.items():
            if name not in allowed:
                raise _fail(tool, f"fixed “{name}”", "this parameter cannot be fixed (or does not exist).")
            if isinstance(value, str) and len(value) > MAX_FIXED_TEXT:
                raise _fail(tool, f"fixed “{name}”", f"at most {MAX_FIXED_TEXT} characters.")
            _check_value(tool, f"fixed “{name}”", allowed[name], value)
            kept[str(name)] = value
        if kept:
            clean["fixed"] = kept
    for name, schema in own.items():
        if name in settings and settings[name] is not None:
            _check_value(tool, f"“{schema.get('title') or label(name)}”", schema, settings[name])
            clean[name] = settings[name]
    tool.check_settings(clean)
    return clean


def timeout(tool: Tool, settings: Mapping[str, Any]) -> float:
    value = settings.get("timeout")
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else tool.timeout


def arguments(settings: Mapping[str, Any], given: dict[str, Any]) -> dict[str, Any]:
    """The model's arguments with the author's fixed values set (they win)."""
    fixed = settings.get("fixed")
    return {**given, **fixed} if isinstance(fixed, Mapping) and fixed else given


def spec(tool: Tool, settings: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """What the model is told about the tool: its description with the author's guidance, and its parameters
    without the fixed ones. A copy: nothing here changes the tool."""
    settings = settings or {}
    description = tool.description
    if guidance := settings.get("guidance"):
        description = f"{description}\n\nWhen to use it (from this agent's author): {guidance}"
    parameters = copy.deepcopy(tool.parameters)
    fixed = settings.get("fixed")
    if isinstance(fixed, Mapping) and fixed:
        properties = parameters.get("properties") or {}
        for name in fixed:
            properties.pop(name, None)
        if isinstance(parameters.get("required"), list):
            parameters["required"] = [r for r in parameters["required"] if r not in fixed]
            if not parameters["required"]:
                del parameters["required"]
    return {"name": tool.name, "description": description, "parameters": parameters}


def describe(settings: Mapping[str, Any]) -> str:
    """One line for people (the builder's Compare): "timeout 10 s; fixed k = 3"."""
    parts: list[str] = []
    for name, value in settings.items():
        if name == "guidance":
            parts.append(f"when to use it: {value}")
        elif name == "timeout":
            parts.append(f"timeout {value:g} s")
        elif name == "fixed" and isinstance(value, Mapping):
            parts += [f"{k} fixed to {v!r}" for k, v in value.items()]
        else:
            parts.append(f"{label(name).lower()}: {value}")
    return "; ".join(parts)
