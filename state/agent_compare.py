"""How the agent builder's Compare dialog shows a version's fields (plain helpers, no state)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from services.agents import store
from services.tools import settings as tool_settings

tool_label = tool_settings.label
VISIBILITY_LABELS = {
    "private": "Private: only you",
    "tenant": "Workspace: every member",
    "featured": "Featured: every member, shown first",
}
FIELD_LABELS = {
    "name": "Name", "description": "Description", "avatar": "Avatar", "category": "Category",
    "instructions": "Instructions", "model": "Model", "temperature": "Temperature", "max_tokens": "Max tokens",
    "max_steps": "Max tool steps", "tools": "Tools", "knowledge": "Knowledge", "starters": "Conversation starters",
    "min_plan": "Minimum plan", "visibility": "Visibility",
}  # fmt: skip


def show_value(field: str, value: Any, names: dict[str, str]) -> str:
    """A version's field as the Compare dialog shows it."""
    if field == "model":
        return str(value) if value else "Workspace default"
    if field == "avatar" and str(value or "").startswith("image:"):
        return "An uploaded image"
    if field in ("temperature", "max_tokens"):
        return "Default" if value is None else str(value)
    if field == "tools":
        picked = [
            tool_label(str(t.get("name", "")))
            + (f" ({tool_settings.describe(t['settings'])})" if t.get("settings") else "")
            for t in value or []
        ]
        return ", ".join(picked) if picked else "None"
    if field == "knowledge":
        knowledge = value or {}
        files = [names.get(str(f), "a file you cannot open") for f in knowledge.get("files") or []]
        groups = [
            names.get(str(c), "a collection you cannot see") for c in knowledge.get("collections") or []
        ]
        parts = [f"Files: {', '.join(files)}"] if files else []
        parts += [f"Collections: {', '.join(groups)}"] if groups else []
        return "\n".join(parts) if parts else "None"
    if field == "starters":
        return "\n".join(str(s) for s in value or []) or "None"
    if field == "min_plan":
        return store.PLAN_LABELS.get(str(value), str(value))
    if field == "visibility":
        return VISIBILITY_LABELS.get(str(value), str(value))
    text = "" if value is None else str(value)
    return text if text else "(empty)"


def change_rows(changes: Sequence[store.Change], names: dict[str, str]) -> list[dict[str, str]]:
    return [
        {
            "field": FIELD_LABELS.get(c.field, c.field),
            "before": show_value(c.field, c.before, names),
            "after": show_value(c.field, c.after, names),
        }
        for c in changes
    ]
