"""Agents page (/agents): the agents the member sees (featured first, then shared, then their own), search and a
category filter, and the template gallery below ("Use template" makes a private copy and opens its builder).
Admins hide and show templates and choose whether members build agents.

Every handler asks the server who is asking (`require_user`) and calls services/agents; the services decide
who may do what, the flags here only choose which buttons to show. Ids in public vars are looked up through
the services again on every use."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable

import reflex as rx

from services.agents import avatars, gallery, store
from services.agents.templates import CATEGORIES
from services.auth.roles import has
from services.context import Ctx
from services.errors import NotFound, ServiceError
from state.session import require_user

VISIBILITY_BADGES = {
    "featured": ("Featured", "amber"),
    "tenant": ("Shared", "blue"),
    "private": ("Private", "gray"),
}


def plan_label(plan: str) -> str:
    """The plan badge ("" for the free plan: no badge)."""
    return "" if plan == "free" else store.PLAN_LABELS.get(plan, plan.capitalize())


def may_edit(ctx: Ctx, agent: store.AgentInfo) -> bool:
    """Whether to offer "Edit" (the store checks again): the author of a private agent, an admin for a shared one."""
    if agent.visibility == "private":
        return agent.author_id == ctx.user_id
    return has(ctx, "agents.manage")


async def may_create(ctx: Ctx) -> bool:
    return has(ctx, "agents.manage") or await store.members_may_create(ctx.tenant_id)


def card_of(ctx: Ctx, agent: store.AgentInfo) -> dict[str, str]:
    badge, color = VISIBILITY_BADGES.get(agent.visibility, VISIBILITY_BADGES["private"])
    return {
        "id": str(agent.id),
        "name": agent.name,
        "description": agent.description,
        "avatar": "" if avatars.image_hash(agent.avatar) else agent.avatar,
        "avatar_url": avatars.url(agent.avatar),
        "category": agent.category,
        "plan": plan_label(agent.min_plan),
        "badge": badge,
        "badge_color": color,
        "editable": "yes" if may_edit(ctx, agent) else "",
        "chat_href": f"/?agent={agent.id}",
        "edit_href": f"/agents/{agent.id}",
    }


def template_of(t: gallery.TemplateInfo) -> dict[str, str]:
    return {
        "key": t.key,
        "name": t.name,
        "description": t.description,
        "avatar": "" if avatars.image_hash(t.avatar) else t.avatar,
        "avatar_url": avatars.url(t.avatar),
        "category": t.category,
        "hidden": "yes" if t.hidden else "",
        "own": "" if t.seeded else "yes",  # the workspace's own: admins may delete it
    }


def category_choices(agents: list[store.AgentInfo], templates: list[gallery.TemplateInfo]) -> list[str]:
    """The filter's categories: the seeded ones first, then any others the workspace's agents use."""
    seen = list(CATEGORIES)
    for name in [a.category for a in agents] + [t.category for t in templates]:
        if name and name not in seen:
            seen.append(name)
    return seen


class AgentsState(rx.State):
    agents: list[dict[str, str]] = []
    total: int = 0  # every agent the member sees, whatever the filters
    templates: list[dict[str, str]] = []
    categories: list[str] = []
    query: str = ""
    category: str = ""  # "" = all
    loaded: bool = False
    error: str = ""
    notice: str = ""
    can_create: bool = False
    is_admin: bool = False
    members_create: bool = True
    using: str = ""  # the template being copied ("Use template" shows it busy)
    deleting: str = ""  # the workspace template whose Delete is being confirmed
    deleting_name: str = ""
    _flash: str = ""  # a notice for the next load (the builder's "Deleted …")

    async def _run(self, work: Callable[[Ctx], Awaitable[object]]) -> bool:
        try:
            ctx = await require_user(self)
            await work(ctx)
        except ServiceError as exc:
            self.error = str(exc)
            return False
        return True

    async def _refresh(self, ctx: Ctx) -> None:
        self.is_admin = has(ctx, "agents.manage")
        self.members_create = await store.members_may_create(ctx.tenant_id)
        self.can_create = self.is_admin or self.members_create
        everything = await store.list_agents(ctx)
        templates = await gallery.list_templates(ctx, include_hidden=self.is_admin)
        self.categories = category_choices(everything, templates)
        if self.category not in self.categories:
            self.category = ""
        if self.query.strip() or self.category:
            shown = await store.list_agents(ctx, query=self.query, category=self.category)
        else:
            shown = everything
        self.agents = [card_of(ctx, a) for a in shown]
        self.total = len(everything)
        self.templates = [template_of(t) for t in templates]

    def _clear(self) -> None:
        self.error = self.notice = ""

    @rx.event
    async def load(self):
        """on_load of /agents (after SessionState.load_private)."""
        self._clear()
        self.notice, self._flash = self._flash, ""
        self.agents, self.templates, self.total, self.loaded = [], [], 0, False
        self.query, self.category, self.using = "", "", ""
        if await self._run(self._refresh):
            self.loaded = True

    @rx.event
    async def search(self, query: str):
        """The search box (debounced in the page): agents whose name or description has every word."""
        self.query = str(query)[:200]
        self._clear()
        await self._run(self._refresh)

    @rx.event
    async def set_category(self, category: str):
        self.category = str(category)[: store.MAX_CATEGORY]
        self._clear()
        await self._run(self._refresh)

    @rx.event
    async def clear_filters(self):
        self.query, self.category = "", ""
        self._clear()
        await self._run(self._refresh)

    @rx.event
    async def use_template(self, key: str):
        """A private copy of the template, opened in the builder."""
        self._clear()
        made: list[uuid.UUID] = []
        self.using = str(key)[:120]

        async def work(ctx: Ctx) -> None:
            made.append((await gallery.use_template(ctx, str(key)[:120])).id)

        try:
            if await self._run(work):
                return rx.redirect(f"/agents/{made[0]}")
        finally:
            self.using = ""

    @rx.event
    async def set_template_hidden(self, key: str, hidden: bool):
        """Admins: hide a template from the gallery (or show it again)."""
        self._clear()
        row = next((t for t in self.templates if t["key"] == key), None)

        async def work(ctx: Ctx) -> None:
            if row is None:
                raise NotFound(gallery.TEMPLATE_NOT_FOUND)
            await gallery.set_template_hidden(ctx, row["key"], bool(hidden))
            await self._refresh(ctx)

        if await self._run(work) and row is not None:
            self.notice = (
                f"“{row['name']}” is hidden: members no longer see it in the gallery."
                if hidden
                else f"“{row['name']}” is back in the gallery."
            )

    @rx.event
    def ask_delete_template(self, key: str):
        row = next((t for t in self.templates if t["key"] == key and t["own"]), None)
        if row is not None:
            self._clear()
            self.deleting, self.deleting_name = row["key"], row["name"]

    @rx.event
    def close_delete_template(self, is_open: bool = False):
        if not is_open:
            self.deleting = self.deleting_name = ""

    @rx.event
    async def delete_template(self):
        """Admins: one of the workspace's own templates goes (agents made from it stay)."""
        key, name = self.deleting, self.deleting_name
        self.deleting = self.deleting_name = ""
        self._clear()

        async def work(ctx: Ctx) -> None:
            await gallery.delete_template(ctx, key)
            await self._refresh(ctx)

        if key and await self._run(work):
            self.notice = f"Deleted the template “{name}”. Agents made from it stay."

    @rx.event
    async def set_members_create(self, on: bool):
        """Admins: whether members build their own private agents."""
        self._clear()

        async def work(ctx: Ctx) -> None:
            await gallery.set_members_create(ctx, bool(on))
            await self._refresh(ctx)

        if await self._run(work):
            self.notice = (
                "Members may build their own private agents."
                if on
                else "Only owners and admins build agents now; members use the shared ones."
            )
