"""One interface for every tool an agent may call: built-ins now, connections (Composio, MCP) later.

A tool declares what the model sees (`name`, `description`, `parameters` as JSON Schema), how long it may take
(`timeout`) and which connection it needs (`needs`, shown in the builder's tool picker). It runs with a
`ToolContext` (who asks, in which conversation, with which files and per-agent settings, see settings.py) and
already-validated arguments, and returns a `ToolResult`. The registry's `execute` does the parsing, validation, timeout, retries and
error handling, so a tool only does its own work and raises `ToolError` when it cannot.
"""

from __future__ import annotations

import abc
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from services.context import Ctx
from services.llm.events import ChatMessage

# What the model reads of one result: enough for a few passages, small enough not to crowd the context.
MAX_RESULT_CHARS = 12_000
MAX_ERROR_CHARS = 1_000
NAME_PATTERN = re.compile(r"^[a-z][a-z0-9_]{0,63}$")


class ToolError(Exception):
    """A tool could not do what was asked. `message` is read by the model (and shown on the card), so it says
    what went wrong and, where it can, what to change. `retryable`: trying again unchanged may work (a
    rate limit, a dropped connection), so `execute` retries it with backoff."""

    def __init__(self, message: str, retryable: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.retryable = retryable


@dataclass(frozen=True, slots=True)
class ToolContext:
    """What a tool may know about the call: the member (their `Ctx` decides what they may read), the
    conversation (None outside one), the files the agent gives it (its own and its collections'), the files
    attached in the conversation, and the tool's per-agent settings (chosen in the builder)."""

    ctx: Ctx
    conversation_id: uuid.UUID | None = None
    file_ids: tuple[uuid.UUID, ...] = ()
    settings: Mapping[str, Any] = field(default_factory=dict)
    chat_file_ids: tuple[uuid.UUID, ...] = ()
    # Whose read rights the agent's own files (`file_ids`) are searched with: a shared agent's author, so that
    # every member it is shared with gets its knowledge without being given the files. None: the member's.
    knowledge_ctx: Ctx | None = None


def _cut(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    note = f"\n[… cut: {len(text) - limit:,} more characters not shown]"
    return text[: max(0, limit - len(note))] + note


@dataclass(slots=True)
class ToolResult:
    """The outcome of one call. `text` is what the model reads (cut to MAX_RESULT_CHARS, with a note saying
    so); `data` is plain JSON-able data for the UI card; `error` is "" when the tool worked, else a sentence
    the model can act on. `duration_ms` and `attempts` are filled in by `execute`."""

    text: str = ""
    data: Any = None
    error: str = ""
    duration_ms: float = 0.0
    attempts: int = 1

    def __post_init__(self) -> None:
        self.bound()

    def bound(self) -> None:
        """Cut `text` and `error` to their limits (again after a tool changed them)."""
        self.text = _cut(self.text, MAX_RESULT_CHARS)
        self.error = _cut(self.error, MAX_ERROR_CHARS)

    @property
    def ok(self) -> bool:
        return not self.error

    def model_text(self) -> str:
        """The content of the tool message the model reads next."""
        if self.error:
            return f"Error: {self.error}"
        return self.text or "(The tool returned nothing.)"

    def as_message(self, tool_call_id: str) -> ChatMessage:
        """The `tool` message answering the model's call `tool_call_id`."""
        return ChatMessage(role="tool", content=self.model_text(), tool_call_id=tool_call_id)


class Tool(abc.ABC):
    """A tool. Subclasses set the class attributes and implement `run`; instances are registered once and
    shared by every call, so `run` keeps no per-call state on `self`."""

    name: ClassVar[str]
    description: ClassVar[str]
    parameters: ClassVar[dict[str, Any]] = {"type": "object", "properties": {}, "additionalProperties": False}
    timeout: ClassVar[float] = 30.0  # seconds, per attempt
    needs: ClassVar[str] = ""  # the connection it needs ("" for none), e.g. "composio:gmail"
    # The tool's own per-agent settings (beside guidance, timeout and fixed values, which every tool has; see
    # services/tools/settings.py): name -> JSON Schema of one plain value, with a `title` the builder shows.
    settings_schema: ClassVar[dict[str, dict[str, Any]]] = {}

    def check_settings(self, settings: dict[str, Any]) -> None:
        """Checks the schema cannot express (a real time zone); raise ValidationError to refuse the save. It may
        normalise `settings` in place. Most tools have none."""
        return None

    @abc.abstractmethod
    async def run(self, call: ToolContext, arguments: dict[str, Any]) -> ToolResult:
        """Do the work with arguments that match `parameters`; raise `ToolError` when it cannot."""

    def __repr__(self) -> str:
        return f"<Tool {self.name}>"
