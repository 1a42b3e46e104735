"""Tools agents may call: the interface (`base`), the registry and runner (`registry`), the built-ins."""

from services.tools.base import MAX_RESULT_CHARS, Tool, ToolContext, ToolError, ToolResult
from services.tools.registry import execute, execute_named, find, get, list_tools, register, spec, specs

__all__ = [
    "MAX_RESULT_CHARS",
    "Tool",
    "ToolContext",
    "ToolError",
    "ToolResult",
    "execute",
    "execute_named",
    "find",
    "get",
    "list_tools",
    "register",
    "spec",
    "specs",
]
