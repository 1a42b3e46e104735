"""Plans and the entitlement gates in the real database: the default Free plan, plans admins define (checked,
isolated per workspace), the model gate, monthly message and token quotas counted from usage records (80 %
warning, then refused with the plan that would allow it), storage, the agents' tier gate; and the reply turn
refusing a message the plan does not allow while keeping the member's message."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from services.billing import entitlements, plans
from services.billing.plans import Limits, PlanDraft
from services.errors import PermissionDenied, ValidationError
from services.turns import UserMessage, run_turn
from tests.services.test_agent_loop import agent_owner
from tests.services.test_chat_support import new_ctx, sql
from tests.services.test_knowledge_turns import stored_file
from tests.services.test_turns import Sink


async def _usage(
    tenant_id: uuid.UUID, user_id: uuid.UUID, n: int, tokens: int = 10, when: datetime | None = None
) -> None:
    for _ in range(n):
        await sql(
            tenant_id,
            "INSERT INTO usage_records (id, tenant_id, user_id, provider, model, prompt_tokens, completion_tokens, "
            "created_at) VALUES (:i, :t, :u, 'mine', 'm1', :p, 0, :w)",
            i=uuid.uuid4(), t=tenant_id, u=user_id, p=tokens, w=when or datetime.now(UTC),
        )  # fmt: skip


async def test_plans_are_the_workspaces_with_a_default_free_one(
    tenant, other_tenant, llm, no_server_providers
) -> None:  # type: ignore[no-untyped-def]
    owner = await agent_owner(tenant, llm, "openai_compatible")
    mia = await new_ctx(tenant.id, f"mia-{uuid.uuid4().hex[:6]}@example.com")
    assert [(p.key, p.name, p.is_default) for p in await plans.list_plans(mia)] == [("free", "Free", True)]
    assert (await plans.plan_of(mia)).key == "free"

    with pytest.raises(PermissionDenied):
        await plans.save_plan(mia, PlanDraft("pro", "Pro", tier="pro"))
    refusals = {
        "lower-case letters": PlanDraft("Pro Plan!", "Pro"),
        "a name": PlanDraft("pro", " "),
        "tier is one of": PlanDraft("pro", "Pro", tier="gold"),
        "starts with price_": PlanDraft("pro", "Pro", stripe_price_month="prod_123"),
        "Messages a month": PlanDraft("pro", "Pro", limits=Limits(messages_month=-1)),
        "does not offer: mine/nope": PlanDraft("pro", "Pro", limits=Limits(models=("mine/nope",))),
        "already has the key": PlanDraft("free", "Another free"),
    }
    for problem, draft in refusals.items():
        with pytest.raises(ValidationError, match=problem):
            await plans.save_plan(owner, draft)
    pro = await plans.save_plan(
        owner,
        PlanDraft("pro", "Pro", "More of everything.", "pro", 2900, 29000, stripe_price_month="price_abc123"),
    )
    assert [p.key for p in await plans.list_plans(mia)] == ["free", "pro"]

    # A member put on a plan takes its tier (the agents' gate reads it); None is back to the default.
    await plans.set_member_plan(owner, mia.user_id, pro.id)
    assert (await plans.plan_of(mia)).key == "pro"
    assert await sql(tenant.id, "SELECT plan FROM users WHERE id = :u", u=mia.user_id) == [("pro",)]
    with pytest.raises(PermissionDenied):
        await plans.plan_of(mia, owner.user_id)  # only billing admins read another member's plan
    with pytest.raises(ValidationError, match="cannot be archived"):
        await plans.archive_plan(owner, (await plans.list_plans(owner))[0].id)
    await plans.set_default(owner, pro.id)
    await plans.archive_plan(owner, (await plans.list_plans(owner))[0].id)
    assert [p.key for p in await plans.list_plans(mia)] == ["pro"]
    assert [p.key for p in await plans.list_plans(owner, include_archived=True)] == ["free", "pro"]
    await plans.set_member_plan(owner, mia.user_id, None)
    assert (await plans.plan_of(mia)).key == "pro"  # the default now

    # Another workspace: its own Free plan; nothing of this one, in the services or under RLS alone.
    eve = await new_ctx(other_tenant.id, f"eve-{uuid.uuid4().hex[:6]}@example.com", role="owner")
    assert [p.key for p in await plans.list_plans(eve, include_archived=True)] == ["free"]
    with pytest.raises(Exception, match="does not exist"):
        await plans.set_member_plan(eve, mia.user_id, None)
    assert await sql(other_tenant.id, "SELECT count(*) FROM plans WHERE key = 'pro'") == [(0,)]


async def test_every_gate_says_why_and_what_would_allow_it(
    tenant, llm, no_server_providers, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    owner = await agent_owner(tenant, llm, "openai_compatible")
    from services import ai_catalog

    await ai_catalog.save_workspace_provider(
        owner, provider_id="mine", kind="openai_compatible", label="Mine", base_url=llm.openai_base_url,
        api_key="sk-test-key", models=["m1", "m2"],
    )  # fmt: skip
    free = (await plans.list_plans(owner))[0]
    await plans.save_plan(
        owner,
        PlanDraft(
            "free",
            "Free",
            limits=Limits(messages_month=5, tokens_month=1000, storage_mb=1, models=("mine/m1",)),
        ),
        free.id,
    )
    await plans.save_plan(owner, PlanDraft("pro", "Pro", tier="pro", price_month_cents=2900))
    await plans.save_plan(
        owner, PlanDraft("plus", "Plus", tier="pro", price_month_cents=900, limits=Limits(messages_month=500))
    )
    mia = await new_ctx(tenant.id, f"mia-{uuid.uuid4().hex[:6]}@example.com")

    # Models.
    assert (await entitlements.may_send(mia, "mine/m1")).allowed
    refused = await entitlements.may_send(mia, "mine/m2")
    assert not refused.allowed and refused.upgrade == ("Plus", "Pro")  # cheapest first
    assert refused.reason == (
        "Your Free plan does not include the model m2. The Plus or Pro plans allow it: see Plans."
    )
    assert (await entitlements.may_send(owner, "mine/m2")).allowed  # owners and admins: no plan gate

    # Messages this month: last month's do not count; 80 % warns; the limit refuses until the next month.
    await _usage(tenant.id, mia.user_id, 7, when=entitlements.month_start() - timedelta(seconds=1))
    assert (await entitlements.usage_this_month(mia)).messages == 0
    await _usage(tenant.id, mia.user_id, 4)
    warned = await entitlements.may_send(mia, "mine/m1")
    assert (
        warned.allowed and warned.warning == "You have used 4 of the 5 messages of your Free plan this month."
    )
    await _usage(tenant.id, mia.user_id, 1)
    full = await entitlements.may_send(mia, "mine/m1")
    assert not full.allowed and full.upgrade == ("Plus", "Pro")
    assert full.reason.startswith("You have used the 5 messages a month of your Free plan (they renew on 1 ")

    # Tokens: counted too (a plan with room in messages but not in tokens).
    ola = await new_ctx(tenant.id, f"ola-{uuid.uuid4().hex[:6]}@example.com")
    await _usage(tenant.id, ola.user_id, 1, tokens=1000)
    tokens = await entitlements.may_send(ola, "mine/m1")
    assert not tokens.allowed and "1,000 tokens a month" in tokens.reason

    # Storage and the tier gate.
    assert (await entitlements.may_store(mia, 0, 512 * 1024)).allowed
    assert not (stored := await entitlements.may_store(mia, 800 * 1024, 512 * 1024)).allowed
    assert "stores 1 MB of files" in stored.reason and stored.upgrade == ("Plus", "Pro")
    await stored_file(mia, tmp_path, "notes.txt", b"plan " * 100_000)  # 500 kB: fits
    with pytest.raises(ValidationError, match="Your Free plan stores 1 MB of files"):
        await stored_file(mia, tmp_path, "more.txt", b"more " * 120_000)
    tier = await entitlements.may_use_tier(mia, "pro", "This agent")
    assert tier.reason == "This agent needs the Pro plan. Upgrade to Plus on the Plans page."
    assert not (await entitlements.may_use_tier(mia, "premium", "This course")).upgrade


async def test_the_reply_turn_refuses_what_the_plan_does_not_allow_and_keeps_the_message(  # type: ignore[no-untyped-def]
    tenant, llm, no_server_providers
) -> None:
    owner = await agent_owner(tenant, llm, "openai_compatible")
    free = (await plans.list_plans(owner))[0]
    await plans.save_plan(owner, PlanDraft("free", "Free", limits=Limits(messages_month=1)), free.id)
    mia = await new_ctx(tenant.id, f"mia-{uuid.uuid4().hex[:6]}@example.com")
    llm.configure(reply="Hello there.")

    async def ask(words: str) -> tuple[uuid.UUID, object]:
        cid, mid = uuid.uuid4(), uuid.uuid4()
        result = await run_turn(
            mia, cid, mid, "mine/m1", on_text=Sink().on_text,
            user=UserMessage(mid, None, words, new_conversation=True),
        )  # fmt: skip
        return cid, result

    _, first = await ask("Hi")
    assert not first.failed, first.error  # type: ignore[attr-defined]
    asked = len(llm.chat_requests())
    cid, second = await ask("Hi again")
    assert second.failed and "You have used the 1 messages a month of your Free plan" in second.error  # type: ignore[attr-defined]
    assert len(llm.chat_requests()) == asked  # the model was not asked
    assert await sql(
        tenant.id, "SELECT text FROM messages WHERE conversation_id = :c AND role = 'user'", c=cid
    ) == [("Hi again",)]
