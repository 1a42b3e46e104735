"""The builder's per-tool settings rows: what each tool offers, filled from saved settings, and typed values
turned back into settings (numbers and yes/no parsed, empty fields left out, a bad number named)."""

from __future__ import annotations

from typing import Any

import pytest

from services.errors import ValidationError
from services.tools import registry
from services.tools.base import Tool, ToolResult
from state.agent_tool_fields import field_specs, needs_label, rows_for, settings_of


def _specs() -> dict[str, list[dict[str, str]]]:
    return {name: field_specs(registry.get(name)) for name in ("file_search", "calculator", "current_time")}


def test_each_tool_offers_its_rows() -> None:
    specs = _specs()
    assert [r["key"] for r in specs["calculator"]] == ["guidance", "timeout"]  # its one parameter is the call
    assert [r["key"] for r in specs["current_time"]] == ["guidance", "timeout", "own:timezone"]
    search = {r["key"]: r for r in specs["file_search"]}
    assert list(search) == ["guidance", "timeout", "own:chat_files", "fixed:query", "fixed:k"]
    assert search["own:chat_files"]["kind"] == "bool"
    assert search["fixed:k"]["label"] == "Fixed number of passages" and search["fixed:k"]["kind"] == "number"
    assert search["timeout"]["default"] == "30"


def test_rows_round_trip_and_typed_values_are_parsed() -> None:
    saved: dict[str, dict[str, Any]] = {
        "file_search": {"guidance": "First.", "fixed": {"k": 2}, "chat_files": False},
        "current_time": {"timezone": "Asia/Tokyo"},
    }
    rows = rows_for(["file_search", "current_time"], _specs(), saved)
    assert {r["id"]: r["value"] for r in rows if r["value"]} == {
        "tool-file_search-guidance": "First.",
        "tool-file_search-own-chat_files": "false",
        "tool-file_search-fixed-k": "2",
        "tool-current_time-own-timezone": "Asia/Tokyo",
    }
    assert settings_of(rows, {}) == saved

    typed = [
        {**r, "value": {"timeout": "7,5", "own:chat_files": "", "fixed:k": "3"}.get(r["key"], r["value"])}
        if r["tool"] == "file_search"
        else r
        for r in rows
    ]
    gone = {"old_tool": {"guidance": "Kept as it was."}}
    assert settings_of(typed, gone) == {
        "file_search": {"guidance": "First.", "timeout": 7.5, "fixed": {"k": 3}},
        "current_time": {"timezone": "Asia/Tokyo"},
        "old_tool": {"guidance": "Kept as it was."},
    }
    bad = [{**r, "value": "soon"} if r["key"] == "timeout" else r for r in rows]
    with pytest.raises(ValidationError, match="Tool “File search”, timeout \\(seconds\\): a number"):
        settings_of(bad, {})


def test_the_picker_says_where_a_tool_comes_from_and_what_it_needs() -> None:
    class Remote(Tool):
        name = "composio_highlevel_search_contacts"
        description = "Contacts."
        needs = "composio:highlevel"

        async def run(self, call: Any, arguments: dict[str, Any]) -> ToolResult:
            return ToolResult()

    crm = Remote()
    assert needs_label(crm, {}) == "Needs your GoHighLevel account: connect it under Settings → Connections"
    assert needs_label(crm, {"highlevel": "INITIATED"}).startswith("Needs your GoHighLevel account")
    assert needs_label(crm, {"highlevel": "ACTIVE"}) == "Uses your GoHighLevel account (connected)"
    assert needs_label(registry.get("calculator"), {}) == "Built in: nothing to connect"
