"""May this member do this now? If not, why, and which plan would allow it. One answer for every gate:
sending a message (the model, the monthly messages and tokens), an agent's or a course's tier, storing a file.

Each gate returns a `Decision`; `allowed` False comes with a sentence for the member and the plans (by name,
cheapest first) that would allow it. A monthly quota used to 80 % or more still allows, with a `warning`.
Owners and admins run the workspace: no plan gate applies to them. Counting is one indexed aggregate over the
member's usage records of the calendar month (UTC): `ix_usage_records_user_time`.

The gates are checked on the server where the work happens (the reply turn, uploads, the agent gate), never only
in the page.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import func, select
from sqlmodel import col

from models import PLAN_TIERS, UsageRecord
from services.auth.roles import has
from services.billing import plans
from services.billing.plans import Limits, PlanInfo
from services.context import Ctx
from services.db import tenant_session

WARN_AT = 0.8
RANK = {tier: rank for rank, tier in enumerate(PLAN_TIERS)}
TIER_LABELS = {"free": "Free", "pro": "Pro", "premium": "Premium"}


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    reason: str = ""  # why not (for the member)
    upgrade: tuple[str, ...] = ()  # the plans that would allow it, cheapest first
    warning: str = ""  # allowed, but a quota is nearly used up


ALLOWED = Decision(True)


@dataclass(frozen=True, slots=True)
class MonthUsage:
    messages: int
    tokens: int
    since: datetime


def month_start(now: datetime | None = None) -> datetime:
    now = now or datetime.now(UTC)
    return now.astimezone(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def renewal(start: datetime) -> str:
    """When the month that began at `start` renews ("1 January")."""
    return _next_month(start)


def _next_month(start: datetime) -> str:
    following = (
        start.replace(year=start.year + 1, month=1)
        if start.month == 12
        else start.replace(month=start.month + 1)
    )
    return f"{following.day} {following.strftime('%B')}"


def exempt(ctx: Ctx) -> bool:
    return has(ctx, "billing.manage")


async def usage_this_month(ctx: Ctx, user_id: uuid.UUID | None = None) -> MonthUsage:
    since = month_start()
    async with tenant_session(ctx.tenant_id) as session:
        count, tokens = (
            await session.execute(
                select(
                    func.count(),
                    func.coalesce(
                        func.sum(col(UsageRecord.prompt_tokens) + col(UsageRecord.completion_tokens)), 0
                    ),
                ).where(
                    col(UsageRecord.user_id) == (user_id or ctx.user_id), col(UsageRecord.created_at) >= since
                )
            )
        ).one()
    return MonthUsage(int(count), int(tokens), since)


async def _upgrades(ctx: Ctx, current: PlanInfo, allows: Callable[[PlanInfo], bool]) -> tuple[str, ...]:
    offered = [p for p in await plans.list_plans(ctx) if p.id != current.id and allows(p)]
    offered.sort(key=lambda p: (p.price_month_cents or 0, RANK.get(p.tier, 0)))
    return tuple(p.name for p in offered)


def _with(names: tuple[str, ...]) -> str:
    if not names:
        return " Ask an admin of this workspace."
    return (
        f" The {names[0]} plan allows it: see Plans."
        if len(names) == 1
        else (f" The {', '.join(names[:-1])} or {names[-1]} plans allow it: see Plans.")
    )


def _model_allowed(limits: Limits, model_key: str) -> bool:
    return limits.models is None or model_key in limits.models


async def may_use_model(ctx: Ctx, model_key: str, plan: PlanInfo | None = None) -> Decision:
    if exempt(ctx):
        return ALLOWED
    plan = plan or await plans.plan_of(ctx)
    if _model_allowed(plan.limits, model_key):
        return ALLOWED
    names = await _upgrades(ctx, plan, lambda p: _model_allowed(p.limits, model_key))
    model = model_key.split("/", 1)[-1]
    return Decision(False, f"Your {plan.name} plan does not include the model {model}." + _with(names), names)


def _quota(used: int, limit: int | None, noun: str, plan: PlanInfo, since: datetime) -> tuple[bool, str]:
    """(within the limit, a warning or the reason)."""
    if limit is None:
        return True, ""
    if used >= limit:
        return False, (
            f"You have used the {limit:,} {noun} a month of your {plan.name} plan (they renew on "
            f"{_next_month(since)})."
        )
    if used >= WARN_AT * limit:
        return True, f"You have used {used:,} of the {limit:,} {noun} of your {plan.name} plan this month."
    return True, ""


async def may_send(ctx: Ctx, model_key: str) -> Decision:
    """The reply turn's gate: the model is in the member's plan and their month's messages and tokens are left."""
    if exempt(ctx):
        return ALLOWED
    plan = await plans.plan_of(ctx)
    model = await may_use_model(ctx, model_key, plan)
    if not model.allowed:
        return model
    limits = plan.limits
    if limits.messages_month is None and limits.tokens_month is None:
        return ALLOWED
    used = await usage_this_month(ctx)
    warnings = []
    for count, limit, noun, key in (
        (used.messages, limits.messages_month, "messages", "messages_month"),
        (used.tokens, limits.tokens_month, "tokens", "tokens_month"),
    ):
        within, text = _quota(count, limit, noun, plan, used.since)
        if not within:

            def roomier(p: PlanInfo, k: str = key, c: int = count) -> bool:
                bound = getattr(p.limits, k)
                return bound is None or bound > c

            names = await _upgrades(ctx, plan, roomier)
            return Decision(False, text + _with(names), names)
        if text:
            warnings.append(text)
    return Decision(True, warning=" ".join(warnings))


async def may_use_tier(ctx: Ctx, tier: str, what: str) -> Decision:
    """An agent's or a course's minimum plan: "This agent needs the Pro plan"."""
    if exempt(ctx) or RANK.get(tier, 0) == 0:
        return ALLOWED
    plan = await plans.plan_of(ctx)
    if RANK.get(plan.tier, 0) >= RANK.get(tier, 0):
        return ALLOWED
    names = await _upgrades(ctx, plan, lambda p: RANK.get(p.tier, 0) >= RANK.get(tier, 0))
    label = TIER_LABELS.get(tier, tier)
    then = f" Upgrade to {names[0]} on the Plans page." if names else " Ask an admin of this workspace."
    return Decision(False, f"{what} needs the {label} plan.{then}", names)


async def may_store(ctx: Ctx, used_bytes: int, adding_bytes: int) -> Decision:
    """Another file of `adding_bytes` on top of the member's `used_bytes` (the plan's storage)."""
    if exempt(ctx):
        return ALLOWED
    plan = await plans.plan_of(ctx)
    limit = plan.limits.storage_mb
    if limit is None or used_bytes + adding_bytes <= limit * 1024 * 1024:
        return ALLOWED
    need = (used_bytes + adding_bytes) / (1024 * 1024)
    names = await _upgrades(ctx, plan, lambda p: p.limits.storage_mb is None or p.limits.storage_mb >= need)
    return Decision(
        False,
        f"Your {plan.name} plan stores {limit:,} MB of files and this one does not fit." + _with(names),
        names,
    )
