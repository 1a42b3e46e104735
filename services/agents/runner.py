"""An agent, ready for the reply turn: its instructions, the specs of its tools, and how to run them for this
member. The loop itself is the reply turn's (services/turns/steps.py): plain chat and agents share one path.

Only the agent's own tools are offered, and only those are run whatever the model asks for (another name is an
error result the model reads). A tool removed from the workspace since the agent was saved is left out. Tools
run as the member, with the settings the agent's author chose for each (services/tools/settings.py):
`file_search` reads what they may read among the agent's files, its collections' files and (unless the author
turned it off) the conversation's files.
"""

from __future__ import annotations

import uuid
from typing import Any

from services.agents.store import AgentDraft, AgentInfo, available_tools
from services.context import Ctx
from services.files import collections
from services.llm import ToolCall
from services.tools import registry
from services.tools.base import ToolContext
from services.turns.reply import AgentRun
from services.turns.steps import ToolRun


async def prepare(
    ctx: Ctx,
    agent: AgentInfo | AgentDraft,
    conversation_id: uuid.UUID | None,
    *,
    conversation_files: tuple[uuid.UUID, ...] = (),
) -> AgentRun:
    """The turn's view of `agent` (a saved one, or the builder's unsaved draft for "Test")."""
    names = [t.name for t in agent.tools]
    available = {tool.name: tool for tool in await available_tools(ctx, names)} if names else {}
    chosen = [(available.get(t.name), dict(t.settings)) for t in agent.tools]
    tools = [(tool, settings) for tool, settings in chosen if tool is not None]
    settings_of: dict[str, dict[str, Any]] = {tool.name: settings for tool, settings in tools}
    # A saved agent's knowledge is read with its author's rights (the author attached it, an admin shared the
    # agent): every member who may use the agent searches it without being given the files themselves.
    author = agent.author_id if isinstance(agent, AgentInfo) else None
    reader = Ctx(tenant_id=ctx.tenant_id, user_id=author, role="member") if author is not None else None
    if reader is not None and reader.user_id == ctx.user_id:
        reader = None
    file_ids = list(dict.fromkeys(agent.files))
    if agent.collections:
        file_ids += [
            f
            for f in await collections.collection_file_ids(reader or ctx, list(agent.collections))
            if f not in file_ids
        ]
    chat_files = tuple(f for f in dict.fromkeys(conversation_files) if f not in file_ids)

    offered = {tool.name: tool for tool, _ in tools}

    async def execute(call: ToolCall) -> ToolRun:
        tool = offered.get(call.name)
        if tool is None:  # only the agent's own tools run, whatever the model asks for
            names = ", ".join(sorted(offered)) or "none"
            return ToolRun(
                "", error=f"There is no tool named {call.name!r} here. The tools you may call: {names}."
            )
        context = ToolContext(
            ctx, conversation_id, tuple(file_ids), settings_of.get(call.name, {}), chat_file_ids=chat_files,
            knowledge_ctx=reader,
        )  # fmt: skip
        result = await registry.execute(tool, context, call.arguments)
        return ToolRun(result.text, result.data, result.error, int(result.duration_ms))

    return AgentRun(
        instructions=agent.instructions,
        tools=tuple(registry.spec(tool, settings) for tool, settings in tools),
        execute=execute if tools else None,
        max_steps=agent.max_steps,
        temperature=agent.temperature,
        max_tokens=agent.max_tokens,
    )
