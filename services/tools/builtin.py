"""The built-in tools: the time in a zone, a safe calculator, and search over the member's attached files.

Models are poor at arithmetic and do not know the time, hence the first two; `file_search` lets an agent look
things up in its files when it decides to, rather than only getting the chunks the turn picked up front.
"""

from __future__ import annotations

import ast
import functools
import math
import operator
import uuid
import zoneinfo
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from services.errors import ValidationError
from services.knowledge.search import Results, search
from services.tools.base import MAX_RESULT_CHARS, Tool, ToolContext, ToolError, ToolResult

# --- current_time ----------------------------------------------------------------------------------------


@functools.cache
def _zones_by_lower() -> dict[str, str]:
    return {z.lower(): z for z in zoneinfo.available_timezones()}


def resolve_zone(name: str) -> zoneinfo.ZoneInfo:
    """The IANA zone `name` (letter case forgiven: models write "utc" or "europe/lisbon")."""
    name = name.strip()
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        pass
    proper = _zones_by_lower().get(name.lower())
    if proper is not None:
        return zoneinfo.ZoneInfo(proper)
    raise ToolError(
        f"Unknown time zone {name!r}. Use an IANA time zone name such as UTC, Europe/Lisbon or America/New_York."
    )


class CurrentTime(Tool):
    name = "current_time"
    description = (
        "The current date and time. Give an IANA time zone (such as Europe/Lisbon or America/New_York) for the "
        "local time there; without one, UTC."
    )
    parameters = {
        "type": "object",
        "properties": {
            "timezone": {
                "type": "string",
                "maxLength": 64,
                "description": "IANA time zone name, e.g. Europe/Lisbon. Default: UTC.",
            }
        },
        "additionalProperties": False,
    }
    timeout = 5.0
    settings_schema = {
        "timezone": {
            "type": "string",
            "maxLength": 64,
            "title": "Default time zone",
            "description": "Used when the model names none, e.g. Europe/Lisbon (empty: UTC).",
        }
    }

    def check_settings(self, settings: dict[str, Any]) -> None:
        zone = settings.get("timezone")
        if isinstance(zone, str) and zone.strip():
            try:
                settings["timezone"] = resolve_zone(zone).key
            except ToolError as err:
                raise ValidationError(f"Tool “Current time”, default time zone: {err.message}") from None
        else:
            settings.pop("timezone", None)

    def __init__(self, clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self._clock = clock  # a seam for tests

    async def run(self, call: ToolContext, arguments: dict[str, Any]) -> ToolResult:
        # The agent's own default zone (its settings) before UTC: "what time is it" means the owner's time.
        default = call.settings.get("timezone")
        name = arguments.get("timezone") or (default if isinstance(default, str) and default else "UTC")
        zone = resolve_zone(name)
        now = self._clock().astimezone(zone)
        offset = now.strftime("%z")
        offset = f"{offset[:3]}:{offset[3:]}" if offset else "+00:00"
        weekday = now.strftime("%A")
        iso = now.isoformat(timespec="seconds")
        abbreviation = now.tzname() or ""
        return ToolResult(
            text=f"{iso} ({weekday}), time zone {zone.key} ({abbreviation}, UTC{offset}).",
            data={
                "iso": iso,
                "weekday": weekday,
                "timezone": zone.key,
                "abbreviation": abbreviation,
                "utc_offset": offset,
            },
        )


# --- calculator ------------------------------------------------------------------------------------------

MAX_EXPRESSION_CHARS = 500
MAX_INT_BITS = 4096  # about 1,230 digits: any operation on such numbers is instant
MAX_DEPTH = 300  # 1+1+...+1 in 500 characters nests 250 deep; well inside Python's recursion limit
MAX_ARGS = 100

_BINARY: dict[type[ast.operator], Callable[[Any, Any], Any]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
    ast.Pow: operator.pow,
}
_UNARY: dict[type[ast.unaryop], Callable[[Any], Any]] = {ast.USub: operator.neg, ast.UAdd: operator.pos}
_CONSTANTS = {"pi": math.pi, "e": math.e}


def _round(x: float, ndigits: int | None = None) -> float:
    if ndigits is None:
        return round(x)
    if not isinstance(ndigits, int) or abs(ndigits) > 100:
        raise ToolError("round's second argument must be a whole number of digits between -100 and 100.")
    return round(x, ndigits)


def _log(x: float, base: float | None = None) -> float:
    return math.log(x) if base is None else math.log(x, base)


def _min(*xs: float) -> float:
    return min(xs)


def _max(*xs: float) -> float:
    return max(xs)


# name: (function, least and most arguments)
_FUNCTIONS: dict[str, tuple[Callable[..., Any], int, int]] = {
    "sqrt": (math.sqrt, 1, 1),
    "round": (_round, 1, 2),
    "abs": (abs, 1, 1),
    "min": (_min, 1, MAX_ARGS),
    "max": (_max, 1, MAX_ARGS),
    "log": (_log, 1, 2),
    "exp": (math.exp, 1, 1),
    "sin": (math.sin, 1, 1),
    "cos": (math.cos, 1, 1),
    "tan": (math.tan, 1, 1),
}
_ALLOWED = "numbers, + - * / // % **, parentheses, pi, e and the functions " + ", ".join(sorted(_FUNCTIONS))


def _refuse(what: str) -> ToolError:
    return ToolError(f"{what} is not allowed in a calculation. Use only {_ALLOWED}.")


def _check_size(value: Any) -> Any:
    if isinstance(value, int) and value.bit_length() > MAX_INT_BITS:
        raise ToolError("The result is too large (more than about 1,200 digits).")
    if isinstance(value, complex):
        raise ToolError(
            "The calculation has no real-number result (such as a fractional power of a negative)."
        )
    return value


def _power(base: Any, exponent: Any) -> Any:
    """`**`, refused before it starts when an integer result would be enormous (9**9**9 would take hours)."""
    if isinstance(base, int) and isinstance(exponent, int) and exponent > 0 and abs(base) > 1:
        if (abs(base).bit_length() - 1) * exponent > MAX_INT_BITS:
            raise ToolError("The result is too large (more than about 1,200 digits).")
    return base**exponent


def _evaluate(node: ast.AST, depth: int = 0) -> Any:
    if depth > MAX_DEPTH:
        raise ToolError("The expression is nested too deeply.")
    if isinstance(node, ast.Expression):
        return _evaluate(node.body, depth + 1)
    if isinstance(node, ast.Constant):
        if isinstance(node.value, bool) or not isinstance(node.value, int | float):
            raise _refuse(f"The value {node.value!r}")
        return _check_size(node.value)
    if isinstance(node, ast.BinOp):
        op = _BINARY.get(type(node.op))
        if op is None:
            raise _refuse(f"The operator {type(node.op).__name__}")
        left, right = _evaluate(node.left, depth + 1), _evaluate(node.right, depth + 1)
        return _check_size(_power(left, right) if op is operator.pow else op(left, right))
    if isinstance(node, ast.UnaryOp):
        unary = _UNARY.get(type(node.op))
        if unary is None:
            raise _refuse(f"The operator {type(node.op).__name__}")
        return unary(_evaluate(node.operand, depth + 1))
    if isinstance(node, ast.Name):
        if node.id in _CONSTANTS:
            return _CONSTANTS[node.id]
        raise _refuse(f"The name {node.id!r}")
    if isinstance(node, ast.Call):
        if not isinstance(node.func, ast.Name) or node.func.id not in _FUNCTIONS:
            raise _refuse("Calling that")
        if node.keywords or any(isinstance(a, ast.Starred) for a in node.args):
            raise _refuse("Keyword or starred arguments")
        function, least, most = _FUNCTIONS[node.func.id]
        if not least <= len(node.args) <= most:
            count = f"{least}" if least == most else f"{least} to {most}"
            raise ToolError(f"{node.func.id} takes {count} argument{'s' if most > 1 else ''}.")
        args = [_evaluate(a, depth + 1) for a in node.args]
        return _check_size(function(*args))
    if isinstance(node, ast.Attribute):
        raise _refuse("Attribute access")
    raise _refuse(f"A {type(node).__name__} expression")


def calculate(expression: str) -> int | float:
    """The value of an arithmetic expression, walked node by node over Python's syntax tree (never `eval`):
    anything but numbers, the operators, pi, e and a few math functions is refused, and so are results too
    large to compute quickly."""
    if len(expression) > MAX_EXPRESSION_CHARS:
        raise ToolError(f"The expression is too long (at most {MAX_EXPRESSION_CHARS} characters).")
    text = expression.strip().replace("^", "**").replace("×", "*").replace("÷", "/")
    if not text:
        raise ToolError("The expression is empty. Give an arithmetic expression such as 2 * (3 + 4).")
    try:
        tree = ast.parse(text, mode="eval")
    except (SyntaxError, ValueError, RecursionError, MemoryError) as err:
        raise ToolError(f"{expression!r} is not a valid arithmetic expression.") from err
    try:
        value = _evaluate(tree)
    except ZeroDivisionError as err:
        raise ToolError("Division by zero.") from err
    except OverflowError as err:
        raise ToolError("The result is too large to compute.") from err
    except ValueError as err:  # math domain errors: sqrt(-1), log(0)
        raise ToolError(f"A math function was given a value outside its domain ({err}).") from err
    except TypeError as err:
        raise ToolError(f"That calculation does not work on these values ({err}).") from err
    if isinstance(value, float) and not math.isfinite(value):
        raise ToolError("The result is not a finite number.")
    return value


def format_number(value: int | float) -> str:
    if isinstance(value, int):
        return str(value)
    return f"{value:.15g}"


class Calculator(Tool):
    name = "calculator"
    description = (
        "Evaluate an arithmetic expression exactly, e.g. (1299 * 12) * 0.85 or sqrt(2) / 3. Supports "
        + _ALLOWED
        + ". Use it for any arithmetic rather than working it out yourself."
    )
    parameters = {
        "type": "object",
        "properties": {
            "expression": {
                "type": "string",
                "minLength": 1,
                "maxLength": MAX_EXPRESSION_CHARS,
                "description": "The expression, e.g. 12 * (3.5 + 4) / 7",
            }
        },
        "required": ["expression"],
        "additionalProperties": False,
    }
    timeout = 5.0

    async def run(self, call: ToolContext, arguments: dict[str, Any]) -> ToolResult:
        expression = arguments["expression"]
        value = calculate(expression)
        shown = format_number(value)
        return ToolResult(
            text=f"{expression.strip()} = {shown}",
            data={"expression": expression, "result": value, "formatted": shown},
        )


# --- file_search -----------------------------------------------------------------------------------------

NO_FILES = "No files are attached to this agent or chat, so there is nothing to search. Ask the user to attach a file."


class FileSearch(Tool):
    name = "file_search"
    description = (
        "Search the files attached to this agent and chat for passages about a question. Returns numbered "
        "passages with their file name and page; cite them by number."
    )
    parameters = {
        "type": "object",
        "properties": {
            "query": {
                "type": "string",
                "minLength": 1,
                "maxLength": 1000,
                "description": "What to look for, in a few words or a question.",
            },
            "k": {
                "type": "integer",
                "title": "Number of passages",
                "minimum": 1,
                "maximum": 10,
                "default": 5,
                "description": "How many passages.",
            },
        },
        "required": ["query"],
        "additionalProperties": False,
    }
    timeout = 30.0
    settings_schema = {
        "chat_files": {
            "type": "boolean",
            "title": "Also search files attached in the chat",
            "description": "Off: only the agent's own files and collections.",
        }
    }

    async def run(self, call: ToolContext, arguments: dict[str, Any]) -> ToolResult:
        query: str = arguments["query"].strip()
        k: int = arguments.get("k", 5)
        chat = call.chat_file_ids if call.settings.get("chat_files", True) is not False else ()
        if not call.file_ids and not chat:
            return ToolResult(text=NO_FILES, data={"query": query, "hits": []})
        if not query:
            raise ToolError("The query is empty. Say what to look for.")
        found = await _search(call, query, list(chat), k)
        if not found.hits:
            return ToolResult(
                text=f"Nothing in the attached files matches {query!r}. Try other words.",
                data={"query": query, "hits": [], "keyword_only": found.keyword_only},
            )
        share = MAX_RESULT_CHARS // len(found.hits) - 100  # every passage gets its part of the room
        passages, hits = [], []
        for n, hit in enumerate(found.hits, start=1):
            where = hit.file_name + (f", page {hit.page}" if hit.page is not None else "")
            body = hit.text if len(hit.text) <= share else hit.text[: share - 1].rstrip() + "…"
            passages.append(f"[{n}] {where}\n{body}")
            hits.append(
                {
                    "n": n,
                    "file_id": str(hit.file_id),
                    "file_name": hit.file_name,
                    "page": hit.page,
                    "heading": hit.heading,
                    "snippet": hit.snippet,
                    "score": round(hit.score, 6),
                }
            )
        return ToolResult(
            text="\n\n".join(passages),
            data={"query": query, "hits": hits, "keyword_only": found.keyword_only},
        )


async def _search(call: ToolContext, query: str, chat: list[uuid.UUID], k: int) -> Results:
    """search() checks read rights and drops the files the reader may not read: the member's for the chat's
    files, and for the agent's own files its author's when the runner says so (a shared agent's knowledge)."""
    reader = call.knowledge_ctx
    if reader is None or reader.user_id == call.ctx.user_id:
        return await search(call.ctx, query, file_ids=list(dict.fromkeys([*call.file_ids, *chat])), k=k)
    own = list(dict.fromkeys(call.file_ids))
    mine = [f for f in dict.fromkeys(chat) if f not in own]
    parts = [await search(reader, query, file_ids=own, k=k)] if own else []
    parts += [await search(call.ctx, query, file_ids=mine, k=k)] if mine else []
    hits = sorted((h for p in parts for h in p.hits), key=lambda h: -h.score)[:k]
    return Results(hits=hits, keyword_only=any(p.keyword_only for p in parts))


BUILTINS: tuple[Tool, ...] = (CurrentTime(), Calculator(), FileSearch())
