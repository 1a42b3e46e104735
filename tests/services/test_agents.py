"""Agents below the browser: every save a version (list, compare, restore), who sees and edits what (private,
shared, featured; members vs admins; the workspace's "members create agents"), the plan gate, validation, and
isolation across members and workspaces (services and RLS)."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy.orm.attributes import flag_modified

from models import Tenant
from services.agents import store
from services.agents.store import AgentDraft, ToolChoice
from services.db import global_session
from services.errors import NotFound, PermissionDenied, ValidationError
from tests.services.test_chat_support import new_ctx, sql


async def test_every_save_is_a_version_that_can_be_compared_and_restored(tenant) -> None:  # type: ignore[no-untyped-def]
    mia = await new_ctx(tenant.id, "mia@example.com")
    first = await store.create_agent(
        mia, AgentDraft("Offer coach", "Designs offers.", "🎯", "Offers", "Ask about the audience first.",
                        starters=("Design my offer", "  Price my   program "))
    )  # fmt: skip
    assert (first.version, first.visibility, first.author_id, first.starters) == (
        1, "private", mia.user_id, ("Design my offer", "Price my program"),
    )  # fmt: skip
    second = await store.update_agent(
        mia, first.id, AgentDraft("Offer coach", "Designs hybrid offers.", "🎯", "Offers", "Interview first.")
    )
    assert second.version == 2
    same = await store.update_agent(mia, first.id, second.draft())
    assert same.version == 2  # nothing changed: no new version
    assert [v.version for v in await store.list_versions(mia, first.id)] == [2, 1]
    changes = {c.field: (c.before, c.after) for c in await store.compare(mia, first.id, 1, 2)}
    assert changes["description"] == ("Designs offers.", "Designs hybrid offers.")
    assert changes["instructions"] == ("Ask about the audience first.", "Interview first.")
    assert changes["starters"] == (["Design my offer", "Price my program"], [])
    assert "name" not in changes

    restored = await store.restore_version(mia, first.id, 1)
    assert (restored.version, restored.instructions, restored.starters) == (
        3, "Ask about the audience first.", ("Design my offer", "Price my program"),
    )  # fmt: skip
    with pytest.raises(NotFound, match="no version 9"):
        await store.restore_version(mia, first.id, 9)


async def test_validation_says_what_to_fix(tenant) -> None:  # type: ignore[no-untyped-def]
    mia = await new_ctx(tenant.id, "mia@example.com")
    for draft, why in (
        (AgentDraft("  "), "Give the agent a name"),
        (AgentDraft("x" * 81), "name is too long"),
        (AgentDraft("A", temperature=3), "temperature"),
        (AgentDraft("A", max_steps=0), "tool steps"),
        (AgentDraft("A", min_plan="gold"), "Choose a plan"),
        (AgentDraft("A", starters=tuple(f"s{i}" for i in range(7))), "at most 6"),
        (AgentDraft("A", files=(uuid.uuid4(),)), "not yours"),
        (AgentDraft("A", collections=(uuid.uuid4(),)), "collections"),
        (AgentDraft("A", model="nowhere/model"), "not configured"),
    ):
        with pytest.raises(ValidationError, match=why):
            await store.create_agent(mia, draft)
    assert await store.list_agents(mia) == []


async def test_who_sees_edits_shares_and_uses_an_agent(tenant, other_tenant) -> None:  # type: ignore[no-untyped-def]
    admin = await new_ctx(tenant.id, "ada@example.com", role="admin")
    mia = await new_ctx(tenant.id, "mia@example.com")
    ola = await new_ctx(tenant.id, "ola@example.com")
    eve = await new_ctx(other_tenant.id, "eve@example.com", role="owner")

    private = await store.create_agent(mia, AgentDraft("Mia's helper"))
    with pytest.raises(PermissionDenied, match="Only an owner or admin shares"):
        await store.create_agent(mia, AgentDraft("Shared by a member", visibility="tenant"))
    with pytest.raises(PermissionDenied, match="Only an owner or admin shares"):
        await store.update_agent(mia, private.id, AgentDraft("Mia's helper", visibility="featured"))
    shared = await store.create_agent(admin, AgentDraft("Team offers", visibility="tenant"))
    featured = await store.create_agent(
        admin, AgentDraft("Hybrid Offer", visibility="featured", min_plan="pro")
    )

    # A private agent: its author only, not even an admin; another workspace sees none of them.
    assert [a.name for a in await store.list_agents(mia)] == ["Hybrid Offer", "Team offers", "Mia's helper"]
    assert [a.name for a in await store.list_agents(ola)] == ["Hybrid Offer", "Team offers"]
    assert [a.name for a in await store.list_agents(admin)] == ["Hybrid Offer", "Team offers"]
    assert await store.list_agents(eve) == []
    for outsider in (ola, admin, eve):
        with pytest.raises(NotFound):
            await store.get_agent(outsider, private.id)
        with pytest.raises(NotFound):
            await store.update_agent(outsider, private.id, AgentDraft("Hijacked"))
        with pytest.raises(NotFound):
            await store.list_versions(outsider, private.id)
    with pytest.raises(NotFound):
        await store.get_agent(eve, shared.id)
    assert await sql(other_tenant.id, "SELECT count(*) FROM agents") == [(0,)]  # RLS alone
    assert await sql(other_tenant.id, "SELECT count(*) FROM agent_versions") == [(0,)]

    # Members use shared agents but do not edit or delete them; admins do.
    with pytest.raises(PermissionDenied, match="Only an owner or admin edits"):
        await store.update_agent(mia, shared.id, AgentDraft("Mine now", visibility="tenant"))
    with pytest.raises(PermissionDenied):
        await store.delete_agent(mia, shared.id)
    await store.update_agent(admin, shared.id, AgentDraft("Team offers v2", visibility="tenant"))

    # The plan gate: on the server, with a clear reason; the author and admins pass it.
    with pytest.raises(PermissionDenied, match="This agent needs the Pro plan"):
        await store.usable_agent(mia, featured.id)
    from services.billing import plans

    premium = await plans.save_plan(admin, plans.PlanDraft("premium", "Coaching Circle", tier="premium"))
    with pytest.raises(PermissionDenied, match="Upgrade to Coaching Circle on the Plans page"):
        await store.usable_agent(mia, featured.id)
    await plans.set_member_plan(admin, mia.user_id, premium.id)
    assert (await store.usable_agent(mia, featured.id)).id == featured.id
    assert (await store.usable_agent(admin, featured.id)).id == featured.id

    # The workspace may keep agent building to its admins.
    async with global_session() as session:
        row = await session.get(Tenant, tenant.id)
        assert row is not None
        row.config = {**(row.config or {}), "agents": {"members_create": False}}
        flag_modified(row, "config")
    with pytest.raises(PermissionDenied, match="only owners and admins create agents"):
        await store.create_agent(ola, AgentDraft("Not allowed"))
    await store.create_agent(admin, AgentDraft("Still allowed"))
    await store.delete_agent(mia, private.id)
    with pytest.raises(NotFound):
        await store.get_agent(mia, private.id)


async def test_the_gallery_seeds_coaching_templates_that_admins_extend_and_hide(tenant, other_tenant) -> None:  # type: ignore[no-untyped-def]
    from services.agents import gallery

    admin = await new_ctx(tenant.id, "ada@example.com", role="admin")
    mia = await new_ctx(tenant.id, "mia@example.com")
    eve = await new_ctx(other_tenant.id, "eve@example.com", role="owner")
    names = [t.name for t in await gallery.list_templates(mia)]
    assert names[:2] == ["Hybrid Offer", "DCM"] and len(names) >= 6

    made = await gallery.use_template(mia, "hybrid-offer")
    assert (made.name, made.visibility, made.author_id, made.template_key) == (
        "Hybrid Offer", "private", mia.user_id, "hybrid-offer",
    )  # fmt: skip
    assert made.instructions.startswith("You are Hybrid Offer") and len(made.starters) == 4
    assert {t.name for t in made.tools} <= {
        "file_search",
        "calculator",
        "current_time",
    }  # web search: not yet
    edited = await store.update_agent(
        mia, made.id, AgentDraft("My offer coach", instructions=made.instructions)
    )
    assert edited.version == 2

    with pytest.raises(PermissionDenied):
        await gallery.add_template(mia, AgentDraft("Members cannot"))
    clock = ToolChoice("current_time", {"timezone": "europe/lisbon"})
    with pytest.raises(ValidationError, match="default time zone"):
        await gallery.add_template(
            admin, AgentDraft("Bad", tools=(ToolChoice("current_time", {"timezone": "Mars"}),))
        )
    own = await gallery.add_template(
        admin, AgentDraft("Launch planner", "Plans launches.", "🚀", "Offers", "You plan.", tools=(clock,))
    )
    await gallery.set_template_hidden(admin, "dcm", True)
    names = [t.name for t in await gallery.list_templates(mia)]
    assert "DCM" not in names and "Launch planner" in names
    planner = await gallery.use_template(mia, own.key)  # the template's tools come with their settings
    assert [(t.name, t.settings) for t in planner.tools] == [("current_time", {"timezone": "Europe/Lisbon"})]
    with pytest.raises(NotFound):
        await gallery.use_template(mia, "dcm")
    assert "DCM" in [t.name for t in await gallery.list_templates(admin, include_hidden=True)]
    assert "Launch planner" not in [t.name for t in await gallery.list_templates(eve)]  # another workspace
    with pytest.raises(ValidationError, match="hide it instead"):
        await gallery.delete_template(admin, "hybrid-offer")
    await gallery.delete_template(admin, own.key)
    await gallery.set_template_hidden(admin, "dcm", False)
    assert "DCM" in [t.name for t in await gallery.list_templates(mia)]
    await gallery.set_members_create(admin, False)
    with pytest.raises(PermissionDenied):
        await gallery.use_template(mia, "hybrid-offer")
