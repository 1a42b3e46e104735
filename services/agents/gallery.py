"""The template gallery: the seeded coaching templates (services/agents/templates.py) and the workspace's own, and
"Use template", which makes a private agent the member can edit. Admins add, hide and delete templates (a seeded
one is hidden in `tenants.config.agents.hidden_templates`; it cannot be deleted) and choose whether members may
build agents (`tenants.config.agents.members_create`). Settings changes are audited.

A template's key is its seeded key ("hybrid-offer") or, for a workspace template, "ws-<id>".
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm.attributes import flag_modified
from sqlmodel import col

from models import AgentTemplate, Tenant
from services.agents import store
from services.agents.store import AgentDraft, AgentInfo, ToolChoice
from services.agents.templates import SEEDED
from services.auth import audit
from services.auth.roles import has, require
from services.context import Ctx
from services.db import global_session, tenant_session
from services.errors import NotFound, ValidationError

WORKSPACE_PREFIX = "ws-"
WEB_SEARCH_PREFIX = (
    "composio_composio_search"  # a template's "web_search": the workspace's Composio web search
)
TEMPLATE_NOT_FOUND = "That template does not exist (or is hidden in this workspace)."


@dataclass(frozen=True, slots=True)
class TemplateInfo:
    key: str
    name: str
    description: str
    category: str
    avatar: str
    instructions: str
    starters: tuple[str, ...]
    tools: tuple[str, ...]
    temperature: float | None
    seeded: bool
    hidden: bool
    tool_settings: dict[str, dict[str, Any]] = field(default_factory=dict)  # a workspace template's


async def _agents_config(tenant_id: uuid.UUID) -> dict[str, Any]:
    async with global_session() as session:
        tenant = await session.get(Tenant, tenant_id)
    if tenant is None:
        raise NotFound("This workspace no longer exists.")
    raw = (tenant.config or {}).get("agents")
    return dict(raw) if isinstance(raw, dict) else {}


async def _save_agents_config(ctx: Ctx, **changes: Any) -> None:
    async with global_session() as session:
        tenant = await session.get(Tenant, ctx.tenant_id, with_for_update=True)
        if tenant is None:
            raise NotFound("This workspace no longer exists.")
        config = dict(tenant.config or {})
        config["agents"] = {**(config.get("agents") or {}), **changes}
        tenant.config = config
        flag_modified(tenant, "config")
        session.add(tenant)
    async with tenant_session(ctx.tenant_id) as session:
        audit.record(session, ctx.tenant_id, "agents.settings", actor=ctx.user_id, ip=ctx.ip, **changes)


def _workspace_info(row: AgentTemplate) -> TemplateInfo:
    return TemplateInfo(
        f"{WORKSPACE_PREFIX}{row.id}", row.name, row.description, row.category, row.avatar, row.instructions,
        tuple(row.starters or ()), tuple(str(t.get("name")) for t in row.tools or []), row.temperature,
        False, row.hidden, {str(t.get("name")): dict(t.get("settings") or {}) for t in row.tools or []},
    )  # fmt: skip


async def list_templates(ctx: Ctx, *, include_hidden: bool = False) -> list[TemplateInfo]:
    """The gallery's templates: seeded first (in their order), then the workspace's by name. Hidden ones only for
    admins who ask for them (to show them again)."""
    require(ctx, "workspace.use")
    include_hidden = include_hidden and has(ctx, "agents.manage")
    hidden = set((await _agents_config(ctx.tenant_id)).get("hidden_templates") or [])
    out = [
        TemplateInfo(t.key, t.name, t.description, t.category, t.emoji, t.instructions, t.starters, t.tools,
                     t.temperature, True, t.key in hidden)
        for t in SEEDED
        if include_hidden or t.key not in hidden
    ]  # fmt: skip
    async with tenant_session(ctx.tenant_id) as session:
        rows = (await session.execute(select(AgentTemplate).order_by(col(AgentTemplate.name)))).scalars()
        out += [_workspace_info(r) for r in rows if include_hidden or not r.hidden]
    return out


async def get_template(ctx: Ctx, key: str) -> TemplateInfo:
    for template in await list_templates(ctx, include_hidden=True):
        if template.key == key and (not template.hidden or has(ctx, "agents.manage")):
            return template
    raise NotFound(TEMPLATE_NOT_FOUND)


async def use_template(ctx: Ctx, key: str) -> AgentInfo:
    """A private agent from the template, for the member to edit; tools the workspace lacks are left out."""
    template = await get_template(ctx, key)
    known = await store.tool_names(ctx)
    web = next((n for n in sorted(known) if n.startswith(WEB_SEARCH_PREFIX)), "")
    names = [web if t == "web_search" else t for t in template.tools]
    draft = AgentDraft(
        name=template.name, description=template.description, avatar=template.avatar, category=template.category,
        instructions=template.instructions, temperature=template.temperature,
        tools=tuple(ToolChoice(t, template.tool_settings.get(t, {})) for t in names if t in known),
        starters=template.starters,
    )  # fmt: skip
    return await store.create_agent(ctx, draft, template_key=template.key)


def _workspace_id(key: str) -> uuid.UUID:
    if not key.startswith(WORKSPACE_PREFIX):
        raise ValidationError("A seeded template cannot be changed or deleted; hide it instead.")
    try:
        return uuid.UUID(key[len(WORKSPACE_PREFIX) :])
    except ValueError as exc:
        raise NotFound(TEMPLATE_NOT_FOUND) from exc


async def add_template(ctx: Ctx, agent: AgentDraft) -> TemplateInfo:
    """An admin turns a definition (often the agent in their builder) into one of the workspace's templates:
    checked as a save is, and kept without its model, files and sharing (a template is where members start)."""
    require(ctx, "agents.manage")
    checked = await store.validate_draft(ctx, agent)
    async with tenant_session(ctx.tenant_id) as session:
        row = AgentTemplate(
            tenant_id=ctx.tenant_id, name=checked["name"], description=checked["description"],
            category=checked["category"], avatar=checked["avatar"], instructions=checked["instructions"],
            starters=checked["starters"], tools=checked["tools"], temperature=checked["temperature"],
            created_by=ctx.user_id,
        )  # fmt: skip
        session.add(row)
        await session.flush()
        return _workspace_info(row)


async def set_template_hidden(ctx: Ctx, key: str, hidden: bool) -> None:
    require(ctx, "agents.manage")
    if any(t.key == key for t in SEEDED):
        current = set((await _agents_config(ctx.tenant_id)).get("hidden_templates") or [])
        current = current | {key} if hidden else current - {key}
        await _save_agents_config(ctx, hidden_templates=sorted(current))
        return
    template_id = _workspace_id(key)
    async with tenant_session(ctx.tenant_id) as session:
        row = await session.get(AgentTemplate, template_id)
        if row is None:
            raise NotFound(TEMPLATE_NOT_FOUND)
        row.hidden = hidden
        session.add(row)


async def delete_template(ctx: Ctx, key: str) -> None:
    require(ctx, "agents.manage")
    template_id = _workspace_id(key)
    async with tenant_session(ctx.tenant_id) as session:
        row = await session.get(AgentTemplate, template_id)
        if row is None:
            raise NotFound(TEMPLATE_NOT_FOUND)
        await session.delete(row)


async def set_members_create(ctx: Ctx, allowed: bool) -> None:
    """Whether members (not only admins) build their own private agents."""
    require(ctx, "agents.manage")
    await _save_agents_config(ctx, members_create=bool(allowed))
