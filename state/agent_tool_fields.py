"""The builder's per-tool settings as form fields (plain helpers, no state).

Each tool the agent has gets a few rows: "When to use it", "Timeout", the tool's own settings and a "Fixed value"
per parameter an author may fix (services/tools/settings.py says what those mean). A row is a dict of strings so
the page can render it with `rx.foreach`; its `value` is what was typed, kept as typed until Save or Test turns
the rows back into settings (`settings_of`), which names the field when a value is not what it should be.

Row keys: `guidance`, `timeout`, `own:<setting>`, `fixed:<parameter>`. Kinds: `long` (a text area), `text`,
`number`, `bool` (default / yes / no) and `choice` (default or one of `options`, joined by "|").
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from services.errors import ValidationError
from services.tools import settings as tool_settings
from services.tools.base import Tool

Row = dict[str, str]


def needs_label(tool: Tool, connected: Mapping[str, str]) -> str:
    """Where a tool comes from and what it needs, for the tool picker: `connected` is the member's Composio
    toolkits and their status (ACTIVE when usable)."""
    from services.tools.composio import TOOLKIT_LABELS

    if tool.needs.startswith("composio:"):
        kit = tool.needs.removeprefix("composio:")
        label = TOOLKIT_LABELS.get(kit, kit)
        if connected.get(kit) == "ACTIVE":
            return f"Uses your {label} account (connected)"
        return f"Needs your {label} account: connect it under Settings → Connections"
    if tool.needs.startswith("mcp:"):
        return f"From the {tool.needs.removeprefix('mcp:')} MCP server (set up by your admins)"
    if tool.name.startswith("composio_"):
        return "Through Composio: nothing to connect"
    return "Built in: nothing to connect"


def _kind(schema: Mapping[str, Any]) -> tuple[str, str]:
    enum = schema.get("enum")
    if isinstance(enum, list) and enum and all(isinstance(v, str) for v in enum):
        return "choice", "|".join(enum)
    kind = schema.get("type")
    if kind == "boolean":
        return "bool", ""
    if kind in ("integer", "number"):
        return "number", ""
    return "text", ""


def _help(schema: Mapping[str, Any]) -> str:
    return " ".join(str(schema.get("description") or "").split())[:300]


def field_specs(tool: Tool) -> list[Row]:
    """The rows a tool offers, without values."""
    rows: list[Row] = [
        {
            "key": "guidance",
            "label": "When to use it",
            "kind": "long",
            "help": "Added to what the model reads about this tool, e.g. “Only for questions about prices.”",
            "default": "",
        },
        {
            "key": "timeout",
            "label": "Timeout (seconds)",
            "kind": "number",
            "help": f"Per attempt, {tool_settings.MIN_TIMEOUT} to {tool_settings.MAX_TIMEOUT}.",
            "default": f"{tool.timeout:g}",
        },
    ]
    for name, schema in tool.settings_schema.items():
        kind, options = _kind(schema)
        rows.append(
            {
                "key": f"own:{name}",
                "label": str(schema.get("title") or tool_settings.label(name)),
                "kind": kind,
                "options": options,
                "help": _help(schema),
                "default": "Default",
            }
        )
    parameters = tool.parameters.get("properties") or {}
    fixable = tool_settings.fixable(tool) if len(parameters) > 1 else {}  # fixing a lone one leaves no call
    for name, schema in fixable.items():
        kind, options = _kind(schema)
        rows.append(
            {
                "key": f"fixed:{name}",
                "label": f"Fixed {str(schema.get('title') or tool_settings.label(name)).lower()}",
                "kind": kind,
                "options": options,
                "help": _help(schema) or "Set on every call; the model does not choose it.",
                "default": "The model chooses",
            }
        )
    return [{"options": "", **row} for row in rows]


def _shown(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:g}"
    return "" if value is None else str(value)


def rows_for(
    names: Sequence[str], specs: Mapping[str, list[Row]], settings: Mapping[str, Mapping[str, Any]]
) -> list[Row]:
    """The rows of the chosen tools, in their order, filled from their settings."""
    rows: list[Row] = []
    for name in names:
        chosen = settings.get(name) or {}
        fixed = chosen.get("fixed") or {}
        for spec in specs.get(name, []):
            key = spec["key"]
            if key.startswith("fixed:"):
                value = fixed.get(key.removeprefix("fixed:"))
            elif key.startswith("own:"):
                value = chosen.get(key.removeprefix("own:"))
            else:
                value = chosen.get(key)
            rows.append(
                {**spec, "tool": name, "id": f"tool-{name}-{key.replace(':', '-')}", "value": _shown(value)}
            )
    return rows


def _value(row: Row, tool: str) -> Any:
    text = row["value"].strip()
    kind = row["kind"]
    if kind == "bool":
        return {"true": True, "false": False}.get(text)
    if kind == "number" and text:
        try:
            number = float(text.replace(",", "."))
        except ValueError:
            raise ValidationError(
                f"Tool “{tool_settings.label(tool)}”, {row['label'].lower()}: a number, please."
            ) from None
        return int(number) if number.is_integer() else number
    if kind == "choice" and text and text not in row["options"].split("|"):
        return None
    return text


def settings_of(rows: Sequence[Row], kept: Mapping[str, Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    """The rows back as settings per tool (empty fields left out); a tool without rows (no longer in the
    workspace) keeps what it had, `kept`."""
    out: dict[str, dict[str, Any]] = {name: dict(values) for name, values in kept.items()}
    for tool in dict.fromkeys(r["tool"] for r in rows):
        out[tool] = {}
    for row in rows:
        tool = row["tool"]
        value = _value(row, tool)
        if value is None or value == "":
            continue
        key = row["key"]
        if key.startswith("fixed:"):
            out[tool].setdefault("fixed", {})[key.removeprefix("fixed:")] = value
        elif key.startswith("own:"):
            out[tool][key.removeprefix("own:")] = value
        else:
            out[tool][key] = value
    return out
