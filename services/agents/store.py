"""Agents: create, edit (every save a new version), list, see versions, compare and restore, share, delete.

Who sees what (checked in every call, besides RLS): a `private` agent only its author; a `tenant` or `featured`
one every member of the workspace. Nobody reads another member's private agent, an admin included (like their
memories). Members create private agents when the workspace allows it (`tenants.config.agents.members_create`,
on by default); admins and owners always may, and they alone share (`tenant`) and feature agents, and edit or
delete shared ones. An author edits their own private agent. `usable_agent` adds the plan gate a chat checks:
"This agent needs the Pro plan".

A definition is validated as a whole on every save: the model must be one the workspace offers, the tools ones the
registry knows and the workspace allows (with valid settings for each: services/tools/settings.py), the knowledge files and collections ones the saving member may read.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from sqlalchemy import func, or_, select
from sqlmodel import col

from models import PLAN_TIERS, Agent, AgentVersion, Tenant
from models.base import utcnow
from services import ai_catalog
from services.agents import avatars
from services.auth.roles import has, require
from services.context import Ctx
from services.db import global_session, tenant_session
from services.errors import NotFound, PermissionDenied, ValidationError
from services.files import collections, records
from services.tools import settings as tool_settings

PLAN_RANK = {tier: rank for rank, tier in enumerate(PLAN_TIERS)}
PLAN_LABELS = {"free": "Free", "pro": "Pro", "premium": "Premium"}
MAX_NAME, MAX_DESCRIPTION, MAX_CATEGORY, MAX_INSTRUCTIONS = 80, 300, 40, 20_000
MAX_STEPS, MAX_STARTERS, MAX_STARTER, MAX_TOOLS, MAX_FILES = 20, 6, 200, 20, 50
NOT_FOUND = "That agent does not exist, or it is not shared with you."
# The definition's fields, as kept in a version's snapshot (and compared).
FIELDS = (
    "name", "description", "avatar", "category", "instructions", "model", "temperature", "max_tokens",
    "max_steps", "tools", "knowledge", "starters", "min_plan", "visibility",
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class ToolChoice:
    name: str
    settings: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class AgentDraft:
    """What the builder's form holds (saved or, for "Test", run unsaved)."""

    name: str
    description: str = ""
    avatar: str = ""
    category: str = ""
    instructions: str = ""
    model: str = ""  # a model key; "" = the workspace's default model
    temperature: float | None = None
    max_tokens: int | None = None
    max_steps: int = 5
    tools: tuple[ToolChoice, ...] = ()
    files: tuple[uuid.UUID, ...] = ()
    collections: tuple[uuid.UUID, ...] = ()
    starters: tuple[str, ...] = ()
    min_plan: str = "free"
    visibility: str = "private"


@dataclass(frozen=True, slots=True)
class AgentInfo:
    id: uuid.UUID
    name: str
    description: str
    avatar: str
    category: str
    instructions: str
    model: str
    temperature: float | None
    max_tokens: int | None
    max_steps: int
    tools: tuple[ToolChoice, ...]
    files: tuple[uuid.UUID, ...]
    collections: tuple[uuid.UUID, ...]
    starters: tuple[str, ...]
    min_plan: str
    visibility: str
    author_id: uuid.UUID | None
    template_key: str
    version: int
    created_at: datetime
    updated_at: datetime

    def draft(self) -> AgentDraft:
        return AgentDraft(
            self.name, self.description, self.avatar, self.category, self.instructions, self.model,
            self.temperature, self.max_tokens, self.max_steps, self.tools, self.files, self.collections,
            self.starters, self.min_plan, self.visibility,
        )  # fmt: skip


@dataclass(frozen=True, slots=True)
class VersionInfo:
    version: int
    author_id: uuid.UUID | None
    created_at: datetime
    name: str


def _ids(values: Any) -> tuple[uuid.UUID, ...]:
    return tuple(uuid.UUID(str(v)) for v in (values or []))


def info(row: Agent) -> AgentInfo:
    knowledge = row.knowledge or {}
    return AgentInfo(
        row.id, row.name, row.description, row.avatar, row.category, row.instructions, row.model,
        row.temperature, row.max_tokens, row.max_steps,
        tuple(ToolChoice(str(t.get("name", "")), dict(t.get("settings") or {})) for t in row.tools or []),
        _ids(knowledge.get("files")), _ids(knowledge.get("collections")), tuple(row.starters or []),
        row.min_plan, row.visibility, row.author_id, row.template_key, row.version, row.created_at, row.updated_at,
    )  # fmt: skip


# Validation ---------------------------------------------------------------------------------------------------


def _text(value: str, limit: int, what: str, *, required: bool = False) -> str:
    cleaned = value.strip()
    if required and not cleaned:
        raise ValidationError(f"Give the agent a {what}.")
    if len(cleaned) > limit:
        raise ValidationError(f"The {what} is too long ({limit:,} characters at most).")
    return cleaned


async def available_tools(ctx: Ctx, names: Collection[str] | None = None) -> list[Any]:
    """The tools this workspace's agents may offer: the built-ins, its enabled MCP servers' tools and its
    Composio toolkits' tools. With `names` (an agent's), a source none of them comes from is not asked: an
    agent without Composio tools never waits for Composio before its first token."""
    from services.tools import composio, mcp, registry  # agents build on tools, not the other way round

    wanted = None if names is None else set(names)
    found: list[Any] = list(registry.list_tools())
    if wanted is None or any(n.startswith("mcp_") for n in wanted):
        found += await mcp.workspace_tools(ctx)
    if wanted is None or any(n.startswith("composio_") for n in wanted):
        found += await composio.workspace_tools(ctx)
    return found


async def tool_names(ctx: Ctx) -> frozenset[str]:
    return frozenset(t.name for t in await available_tools(ctx))


async def _definition(ctx: Ctx, draft: AgentDraft) -> dict[str, Any]:
    """The draft as stored (a snapshot), or a ValidationError naming what to fix."""
    name = _text(draft.name, MAX_NAME, "name", required=True)
    description = _text(draft.description, MAX_DESCRIPTION, "description")
    avatar = await avatars.check(ctx, draft.avatar)
    category = _text(draft.category, MAX_CATEGORY, "category")
    instructions = _text(draft.instructions, MAX_INSTRUCTIONS, "instructions")
    if draft.temperature is not None and not 0 <= draft.temperature <= 2:
        raise ValidationError("The temperature is a number from 0 to 2.")
    if draft.max_tokens is not None and not 1 <= draft.max_tokens <= 128_000:
        raise ValidationError("The reply length limit is from 1 to 128,000 tokens.")
    if not 1 <= draft.max_steps <= MAX_STEPS:
        raise ValidationError(f"The tool steps are from 1 to {MAX_STEPS}.")
    if draft.min_plan not in PLAN_RANK:
        raise ValidationError(f"Choose a plan: {', '.join(PLAN_TIERS)}.")
    if draft.visibility not in ("private", "tenant", "featured"):
        raise ValidationError("Choose who sees the agent: private, the workspace, or featured.")
    starters = [" ".join(s.split()) for s in draft.starters if s.strip()]
    if len(starters) > MAX_STARTERS or any(len(s) > MAX_STARTER for s in starters):
        raise ValidationError(
            f"An agent has at most {MAX_STARTERS} conversation starters of {MAX_STARTER} characters."
        )
    model = draft.model.strip()
    if model:
        await ai_catalog.provider_for(ctx, model)  # offered and enabled here, or a clear error
    known = (
        {t.name: t for t in await available_tools(ctx, [c.name for c in draft.tools])} if draft.tools else {}
    )
    tools: list[dict[str, Any]] = []
    for choice in draft.tools[:MAX_TOOLS]:
        tool = known.get(choice.name)
        if tool is None:
            raise ValidationError(f"There is no tool “{choice.name}” in this workspace.")
        if any(t["name"] == choice.name for t in tools):
            continue
        tools.append({"name": choice.name, "settings": tool_settings.check(tool, choice.settings)})
    files = list(dict.fromkeys(draft.files))[:MAX_FILES]
    readable = set(await records.readable_ids(ctx, files)) if files else set()
    if missing := [f for f in files if f not in readable]:
        raise ValidationError(f"{len(missing)} of the agent's files do not exist or are not yours to share.")
    wanted = list(dict.fromkeys(draft.collections))
    visible = {c.id for c in await collections.list_collections(ctx)} if wanted else set()
    if any(c not in visible for c in wanted):
        raise ValidationError("One of the agent's collections does not exist or is not visible to you.")
    return {
        "name": name, "description": description, "avatar": avatar, "category": category,
        "instructions": instructions, "model": model, "temperature": draft.temperature,
        "max_tokens": draft.max_tokens, "max_steps": draft.max_steps, "tools": tools,
        "knowledge": {"files": [str(f) for f in files], "collections": [str(c) for c in wanted]},
        "starters": starters, "min_plan": draft.min_plan, "visibility": draft.visibility,
    }  # fmt: skip


async def validate_draft(ctx: Ctx, draft: AgentDraft) -> dict[str, Any]:
    """The draft checked as a save checks it (the builder's "Test", a new template): the definition as it
    would be stored, or a ValidationError naming what to fix."""
    require(ctx, "workspace.use")
    return await _definition(ctx, draft)


# Permissions ---------------------------------------------------------------------------------------------------


async def members_may_create(tenant_id: uuid.UUID) -> bool:
    async with global_session() as session:
        tenant = await session.get(Tenant, tenant_id)
    raw = ((tenant.config or {}).get("agents") or {}) if tenant is not None else {}
    return raw.get("members_create") is not False


def _sees(ctx: Ctx, row: Agent) -> bool:
    return row.visibility != "private" or row.author_id == ctx.user_id


def _may_edit(ctx: Ctx, row: Agent) -> bool:
    if row.visibility == "private":
        return row.author_id == ctx.user_id
    return has(ctx, "agents.manage")


def _check_sharing(ctx: Ctx, visibility: str) -> None:
    if visibility != "private" and not has(ctx, "agents.manage"):
        raise PermissionDenied("Only an owner or admin shares agents with the workspace or features them.")


async def _visible_row(session: Any, ctx: Ctx, agent_id: uuid.UUID, *, lock: bool = False) -> Agent:
    statement = select(Agent).where(col(Agent.id) == agent_id)
    if lock:
        statement = statement.with_for_update()
    row = (await session.execute(statement)).scalar_one_or_none()
    if row is None or not _sees(ctx, row):
        raise NotFound(NOT_FOUND)
    return row


# Writing -------------------------------------------------------------------------------------------------------


def _apply(row: Agent, definition: dict[str, Any]) -> None:
    for name in FIELDS:
        setattr(row, name, definition[name])


async def create_agent(ctx: Ctx, draft: AgentDraft, *, template_key: str = "") -> AgentInfo:
    require(ctx, "workspace.use")
    if not has(ctx, "agents.manage") and not await members_may_create(ctx.tenant_id):
        raise PermissionDenied("In this workspace only owners and admins create agents.")
    _check_sharing(ctx, draft.visibility)
    definition = await _definition(ctx, draft)
    async with tenant_session(ctx.tenant_id) as session:
        row = Agent(tenant_id=ctx.tenant_id, author_id=ctx.user_id, template_key=template_key[:80], name="")
        _apply(row, definition)
        session.add(row)
        await session.flush()
        session.add(
            AgentVersion(tenant_id=ctx.tenant_id, agent_id=row.id, version=1, snapshot=definition,
                         author_id=ctx.user_id)
        )  # fmt: skip
        return info(row)


async def update_agent(ctx: Ctx, agent_id: uuid.UUID, draft: AgentDraft) -> AgentInfo:
    """Save the builder's form: a new version (nothing changes when it is the same as the current one)."""
    require(ctx, "workspace.use")
    definition = await _definition(ctx, draft)
    async with tenant_session(ctx.tenant_id) as session:
        row = await _visible_row(session, ctx, agent_id, lock=True)
        if not _may_edit(ctx, row):
            raise PermissionDenied(
                "Only an owner or admin edits a shared agent. “Duplicate” makes a copy of it."
            )
        if definition["visibility"] != row.visibility:
            _check_sharing(ctx, definition["visibility"])
            if row.author_id != ctx.user_id and definition["visibility"] == "private":
                raise PermissionDenied("Only its author may make an agent private again.")
        if {k: getattr(row, k) for k in FIELDS} == definition:
            return info(row)
        _apply(row, definition)
        row.version += 1
        row.updated_at = utcnow()
        session.add(row)
        session.add(
            AgentVersion(tenant_id=ctx.tenant_id, agent_id=row.id, version=row.version, snapshot=definition,
                         author_id=ctx.user_id)
        )  # fmt: skip
        return info(row)


async def delete_agent(ctx: Ctx, agent_id: uuid.UUID) -> None:
    """Its conversations stay (they become plain chats that remember its name in their messages)."""
    require(ctx, "workspace.use")
    async with tenant_session(ctx.tenant_id) as session:
        row = await _visible_row(session, ctx, agent_id, lock=True)
        if not _may_edit(ctx, row):
            raise PermissionDenied("Only an owner or admin deletes a shared agent.")
        await session.delete(row)


# Reading -------------------------------------------------------------------------------------------------------


async def get_agent(ctx: Ctx, agent_id: uuid.UUID) -> AgentInfo:
    require(ctx, "workspace.use")
    async with tenant_session(ctx.tenant_id) as session:
        return info(await _visible_row(session, ctx, agent_id))


async def list_agents(ctx: Ctx, *, query: str = "", category: str = "", limit: int = 200) -> list[AgentInfo]:
    """The agents the member sees: featured first, then shared, then their own; by name. `query` matches
    words of the name or description."""
    require(ctx, "workspace.use")
    statement = select(Agent).where(
        or_(col(Agent.visibility).in_(("tenant", "featured")), col(Agent.author_id) == ctx.user_id)
    )
    if category:
        statement = statement.where(col(Agent.category) == category)
    for word in query.split()[:8]:
        pattern = "%" + word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        statement = statement.where(col(Agent.name).ilike(pattern) | col(Agent.description).ilike(pattern))
    rank = func.array_position(["featured", "tenant", "private"], col(Agent.visibility))
    statement = statement.order_by(rank, func.lower(col(Agent.name)), col(Agent.id)).limit(limit)
    async with tenant_session(ctx.tenant_id) as session:
        return [info(r) for r in (await session.execute(statement)).scalars()]


async def list_versions(ctx: Ctx, agent_id: uuid.UUID) -> list[VersionInfo]:
    """Newest first."""
    require(ctx, "workspace.use")
    async with tenant_session(ctx.tenant_id) as session:
        await _visible_row(session, ctx, agent_id)
        rows = await session.execute(
            select(AgentVersion)
            .where(col(AgentVersion.agent_id) == agent_id)
            .order_by(col(AgentVersion.version).desc())
        )
        return [
            VersionInfo(v.version, v.author_id, v.created_at, str(v.snapshot.get("name", "")))
            for v in rows.scalars()
        ]


async def version_snapshot(ctx: Ctx, agent_id: uuid.UUID, version: int) -> dict[str, Any]:
    require(ctx, "workspace.use")
    async with tenant_session(ctx.tenant_id) as session:
        await _visible_row(session, ctx, agent_id)
        found = (
            await session.execute(
                select(AgentVersion).where(
                    col(AgentVersion.agent_id) == agent_id, col(AgentVersion.version) == version
                )
            )
        ).scalar_one_or_none()
    if found is None:
        raise NotFound(f"The agent has no version {version}.")
    return dict(found.snapshot)


@dataclass(frozen=True, slots=True)
class Change:
    field: str
    before: Any
    after: Any


async def compare(ctx: Ctx, agent_id: uuid.UUID, older: int, newer: int) -> list[Change]:
    """What changed between two versions, field by field (in the form's order)."""
    a = await version_snapshot(ctx, agent_id, older)
    b = await version_snapshot(ctx, agent_id, newer)
    return [Change(f, a.get(f), b.get(f)) for f in FIELDS if a.get(f) != b.get(f)]


def _draft_of(snapshot: dict[str, Any]) -> AgentDraft:
    knowledge = snapshot.get("knowledge") or {}
    return AgentDraft(
        name=str(snapshot.get("name", "")), description=str(snapshot.get("description", "")),
        avatar=str(snapshot.get("avatar", "")), category=str(snapshot.get("category", "")),
        instructions=str(snapshot.get("instructions", "")), model=str(snapshot.get("model", "")),
        temperature=snapshot.get("temperature"), max_tokens=snapshot.get("max_tokens"),
        max_steps=int(snapshot.get("max_steps") or 5),
        tools=tuple(ToolChoice(str(t["name"]), dict(t.get("settings") or {})) for t in snapshot.get("tools") or []),
        files=_ids(knowledge.get("files")), collections=_ids(knowledge.get("collections")),
        starters=tuple(snapshot.get("starters") or ()), min_plan=str(snapshot.get("min_plan", "free")),
        visibility=str(snapshot.get("visibility", "private")),
    )  # fmt: skip


async def restore_version(ctx: Ctx, agent_id: uuid.UUID, version: int) -> AgentInfo:
    """The old version's definition becomes the newest version (its sharing stays as it is now)."""
    current = await get_agent(ctx, agent_id)
    old = _draft_of(await version_snapshot(ctx, agent_id, version))
    return await update_agent(ctx, agent_id, replace(old, visibility=current.visibility))


# Using -------------------------------------------------------------------------------------------------------


async def usable_agent(ctx: Ctx, agent_id: uuid.UUID) -> AgentInfo:
    """The agent for a chat, once the member may use it: they see it and their plan is high enough (admins and
    the author pass the plan gate: they build and test it)."""
    agent = await get_agent(ctx, agent_id)
    if agent.author_id == ctx.user_id or has(ctx, "agents.manage"):
        return agent
    from services.billing import entitlements  # billing reads the catalog; agents ask it only here

    decision = await entitlements.may_use_tier(ctx, agent.min_plan, "This agent")
    if not decision.allowed:
        raise PermissionDenied(decision.reason)
    return agent
