"""Pure functions over a conversation's message tree (no database).

Siblings are ordered oldest first (created_at, then id). The "latest" child of a message is its newest one, so
after an edit or a regeneration the new branch is the one shown.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol, TypeVar

from services.chat.common import MessageInfo
from services.llm import ChatMessage, ToolCall


class Node(Protocol):
    @property
    def id(self) -> uuid.UUID: ...
    @property
    def parent_id(self) -> uuid.UUID | None: ...
    @property
    def created_at(self) -> datetime: ...


N = TypeVar("N", bound=Node)


@dataclass(frozen=True, slots=True)
class PathStep:
    """One message of the visible branch, with its place among its siblings (for `< 2/3 >`)."""

    message: MessageInfo
    index: int  # 0-based, oldest sibling first
    count: int
    sibling_ids: tuple[uuid.UUID, ...]

    @property
    def previous_id(self) -> uuid.UUID | None:
        return self.sibling_ids[self.index - 1] if self.index > 0 else None

    @property
    def next_id(self) -> uuid.UUID | None:
        return self.sibling_ids[self.index + 1] if self.index + 1 < self.count else None


def children_of(messages: Iterable[N]) -> dict[uuid.UUID | None, list[N]]:
    """Children per parent id (None: the roots), oldest first."""
    children: dict[uuid.UUID | None, list[N]] = {}
    for message in messages:
        children.setdefault(message.parent_id, []).append(message)
    for siblings in children.values():
        siblings.sort(key=lambda m: (m.created_at, m.id))
    return children


def _descend(children: Mapping[uuid.UUID | None, Sequence[N]], start: N) -> list[N]:
    """From `start` down through the newest child at each level; `start` excluded."""
    out: list[N] = []
    seen = {start.id}
    current = start
    while kids := children.get(current.id):
        current = kids[-1]
        if current.id in seen:  # defensive: a cycle cannot come from the database (foreign keys)
            break
        seen.add(current.id)
        out.append(current)
    return out


def latest_leaf(messages: Sequence[N], start_id: uuid.UUID | None = None) -> uuid.UUID | None:
    """The deepest newest descendant of `start_id` (itself when it has no children).

    With no `start_id`: of the newest root. None for an empty conversation or an unknown id.
    """
    children = children_of(messages)
    if start_id is None:
        roots = children.get(None)
        if not roots:
            return None
        start = roots[-1]
    else:
        found = next((m for m in messages if m.id == start_id), None)
        if found is None:
            return None
        start = found
    tail = _descend(children, start)
    return (tail[-1] if tail else start).id


def _path_nodes(
    messages: Sequence[N], leaf_id: uuid.UUID | None, *, descend: bool = True
) -> tuple[list[N], dict[uuid.UUID | None, list[N]]]:
    children = children_of(messages)
    by_id = {m.id: m for m in messages}
    leaf = by_id.get(leaf_id) if leaf_id is not None else None
    if leaf is None:
        default = latest_leaf(messages)
        if default is None:
            return [], children
        leaf = by_id[default]
    chain: list[N] = []
    seen: set[uuid.UUID] = set()
    node: N | None = leaf
    while node is not None and node.id not in seen:
        seen.add(node.id)
        chain.append(node)
        node = by_id.get(node.parent_id) if node.parent_id is not None else None
    chain.reverse()
    return (chain + _descend(children, leaf) if descend else chain), children


def branch_path(messages: Sequence[MessageInfo], leaf_id: uuid.UUID | None) -> list[PathStep]:
    """The visible branch, root first, ending at `leaf_id` (continued down its newest children if it has
    any). An unknown or missing `leaf_id` shows the newest branch."""
    nodes, children = _path_nodes(messages, leaf_id)
    steps: list[PathStep] = []
    for message in nodes:
        siblings = children.get(message.parent_id, [message])
        ids = tuple(s.id for s in siblings)
        steps.append(PathStep(message=message, index=ids.index(message.id), count=len(ids), sibling_ids=ids))
    return steps


def _tool_calls(message: MessageInfo) -> tuple[ToolCall, ...]:
    calls = []
    for part in message.content_parts:
        if part.get("type") == "tool_call" and part.get("id") and part.get("name"):
            arguments = part.get("arguments", "{}")
            if not isinstance(arguments, str):
                arguments = json.dumps(arguments)
            calls.append(ToolCall(id=str(part["id"]), name=str(part["name"]), arguments=arguments))
    return tuple(calls)


def _inline_steps(message: MessageInfo) -> list[ChatMessage] | None:
    """An agent's reply stored as one message (services/turns/steps.py: its tool calls are `tool_call` parts with
    their results and where they sit in the text) as the assistant / tool / assistant messages it was; None for
    any other message."""
    calls = [
        p for p in message.content_parts if p.get("type") == "tool_call" and "status" in p and p.get("id")
    ]
    if not calls:
        return None
    out: list[ChatMessage] = []
    position = 0
    groups: list[tuple[int, list[dict[str, Any]]]] = []
    for part in calls:
        at = min(max(int(part.get("at") or 0), position), len(message.text))
        if groups and groups[-1][0] == at:
            groups[-1][1].append(part)
        else:
            groups.append((at, [part]))
            position = at
    position = 0
    for at, group in groups:
        made = tuple(
            ToolCall(
                id=str(p["id"]),
                name=str(p.get("name") or ""),
                arguments=p["arguments"]
                if isinstance(p.get("arguments"), str)
                else json.dumps(p.get("arguments") or {}),
            )
            for p in group
        )
        out.append(ChatMessage("assistant", message.text[position:at].strip(), tool_calls=made))
        for p in group:
            if p.get("status") == "stopped":
                answer = "Stopped by the user."
            elif p.get("error"):
                answer = f"Error: {p['error']}"
            else:
                answer = str(p.get("result") or "")
            out.append(ChatMessage("tool", answer, tool_call_id=str(p["id"])))
        position = at
    if rest := message.text[position:].strip():
        out.append(ChatMessage("assistant", rest))
    return out


def reply_for_model(message: MessageInfo) -> list[ChatMessage]:
    """A stored reply (with no tool messages after it) as the messages its next request replays."""
    steps = _inline_steps(message)
    if steps is not None:
        return steps
    return [ChatMessage("assistant", message.text)] if message.text else []


def _answers(message: MessageInfo) -> str | None:
    """The id of the tool call a tool message answers, if it names one."""
    return next((str(p["tool_call_id"]) for p in message.content_parts if p.get("tool_call_id")), None)


def _tool_name(message: MessageInfo) -> str:
    return next((str(p["name"]) for p in message.content_parts if p.get("name")), "") or "a tool"


def history_for_model(messages: Sequence[MessageInfo], leaf_id: uuid.UUID | None) -> list[ChatMessage]:
    """The branch that ends at `leaf_id` (root first, nothing below it), as provider messages. With no (or
    an unknown) `leaf_id`: the newest branch.

    * Unfinished replies keep their partial text; failed replies without text are left out.
    * A tool call is sent as one only when the tool messages right after its assistant message answer it
      (providers refuse a call without its result, and a result without its call). A call nobody answered
      is dropped (the assistant's text stays).
    * A tool result that answers no call of the message before it (imported from ChatGPT, whose exports
      carry no call ids, or an orphan) is kept as context: a user-role message that says which tool produced
      it. Dropping it would lose what the next reply was built on (browsing results, code output).
    * System messages are kept in place (Anthropic's adapter joins them into its `system` parameter).
    """
    nodes = _path_nodes(messages, leaf_id, descend=False)[0]
    history: list[ChatMessage] = []
    for i, message in enumerate(nodes):
        if message.role == "assistant":
            if (steps := _inline_steps(message)) is not None:
                history.extend(steps)
                continue
            following: set[str] = set()
            for later in nodes[i + 1 :]:
                if later.role != "tool":
                    break
                if (answered := _answers(later)) is not None:
                    following.add(answered)
            calls = tuple(c for c in _tool_calls(message) if c.id in following)
            if message.text or calls:
                history.append(ChatMessage("assistant", message.text, tool_calls=calls))
        elif message.role == "tool":
            call_id = _answers(message)
            if call_id and call_id in {c.id for c in _called_since(history)}:
                history.append(ChatMessage("tool", message.text, tool_call_id=call_id))
            elif message.text:
                history.append(ChatMessage("user", f"[Result from {_tool_name(message)}]\n{message.text}"))
        elif message.role == "user" and message.text:
            history.append(ChatMessage("user", message.text))
        elif message.role == "system" and message.text:
            history.append(ChatMessage("system", message.text))
    return history


def _called_since(history: Sequence[ChatMessage]) -> tuple[ToolCall, ...]:
    """The calls of the last assistant message when only its tool results follow it, else none."""
    for item in reversed(history):
        if item.role == "tool":
            continue
        return item.tool_calls if item.role == "assistant" else ()
    return ()
