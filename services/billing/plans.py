"""A workspace's plans (models/billing.py): list, create and edit, choose the default, archive; which plan a
member is on, and giving a member a plan (admins comp it; the Stripe webhooks will set it too).

Every workspace has a default plan. Until its admins define any, it is "Free" (no limits, the free tier),
created the first time plans are read. A member without a plan of their own is on the default one. Changing a
member's plan also sets `users.plan` to its tier, which the agents' (and courses') gates compare.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlmodel import col

from models import PLAN_TIERS, Plan, User
from models.base import utcnow
from services import ai_catalog
from services.auth import audit
from services.auth.roles import has, require
from services.context import Ctx
from services.db import tenant_session
from services.errors import NotFound, ValidationError

FREE_KEY = "free"
MAX_PLANS = 20
MAX_PRICE_CENTS = 100_000_000  # a million a period
MAX_LIMIT = 10**12
LIMIT_KEYS = ("messages_month", "tokens_month", "storage_mb")
NOT_FOUND = "That plan does not exist in this workspace."
_KEY = re.compile(r"^[a-z0-9][a-z0-9-]{0,39}$")
_PRICE_ID = re.compile(r"^price_[A-Za-z0-9]{1,90}$")


@dataclass(frozen=True, slots=True)
class Limits:
    """None: no limit. `models` None: every model the workspace offers."""

    messages_month: int | None = None
    tokens_month: int | None = None
    storage_mb: int | None = None
    models: tuple[str, ...] | None = None

    def stored(self) -> dict[str, Any]:
        out: dict[str, Any] = {k: getattr(self, k) for k in LIMIT_KEYS if getattr(self, k) is not None}
        if self.models is not None:
            out["models"] = list(self.models)
        return out

    @classmethod
    def of(cls, raw: dict[str, Any] | None) -> Limits:
        raw = raw or {}

        def number(key: str) -> int | None:
            value = raw.get(key)
            return value if isinstance(value, int) and not isinstance(value, bool) else None

        models = raw.get("models")
        return cls(
            number("messages_month"),
            number("tokens_month"),
            number("storage_mb"),
            tuple(str(m) for m in models) if isinstance(models, list) else None,
        )


@dataclass(frozen=True, slots=True)
class PlanDraft:
    key: str
    name: str
    description: str = ""
    tier: str = "free"
    price_month_cents: int | None = None
    price_year_cents: int | None = None
    currency: str = "usd"
    stripe_price_month: str = ""
    stripe_price_year: str = ""
    limits: Limits = field(default_factory=Limits)
    position: int = 0


@dataclass(frozen=True, slots=True)
class PlanInfo:
    id: uuid.UUID
    key: str
    name: str
    description: str
    tier: str
    price_month_cents: int | None
    price_year_cents: int | None
    currency: str
    stripe_price_month: str
    stripe_price_year: str
    limits: Limits
    is_default: bool
    archived: bool
    position: int


def _info(row: Plan) -> PlanInfo:
    return PlanInfo(
        row.id, row.key, row.name, row.description, row.tier, row.price_month_cents, row.price_year_cents,
        row.currency, row.stripe_price_month, row.stripe_price_year, Limits.of(row.limits), row.is_default,
        row.archived, row.position,
    )  # fmt: skip


async def ensure_default(tenant_id: uuid.UUID) -> None:
    """The workspace's Free plan, when it has no plan at all (concurrent first reads insert it once)."""
    async with tenant_session(tenant_id) as session:
        if (await session.execute(select(func.count()).select_from(Plan))).scalar():
            return
        now = utcnow()
        await session.execute(
            insert(Plan)
            .values(
                id=uuid.uuid4(), tenant_id=tenant_id, key=FREE_KEY, name="Free", tier="free", is_default=True,
                description="Everything this workspace offers, at no cost.", limits={}, created_at=now,
                updated_at=now,
            )
            .on_conflict_do_nothing()
        )  # fmt: skip


async def list_plans(ctx: Ctx, *, include_archived: bool = False) -> list[PlanInfo]:
    """The workspace's plans in their order (archived ones for billing admins who ask)."""
    require(ctx, "workspace.use")
    await ensure_default(ctx.tenant_id)
    query = select(Plan).order_by(
        col(Plan.position), col(Plan.price_month_cents).nulls_first(), col(Plan.name)
    )
    async with tenant_session(ctx.tenant_id) as session:
        rows = (await session.execute(query)).scalars().all()
    show_archived = include_archived and has(ctx, "billing.manage")
    return [_info(r) for r in rows if show_archived or not r.archived]


def _count(value: int | None, what: str, limit: int) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= limit:
        raise ValidationError(f"{what} is a whole number from 0 to {limit:,} (or empty for none).")
    return value


async def _checked(ctx: Ctx, draft: PlanDraft) -> dict[str, Any]:
    key = draft.key.strip().lower()
    if not _KEY.match(key):
        raise ValidationError("A plan's key is 1 to 40 lower-case letters, digits and dashes, such as pro.")
    name = " ".join(draft.name.split())
    if not name or len(name) > 80:
        raise ValidationError("Give the plan a name of at most 80 characters.")
    if len(draft.description) > 500:
        raise ValidationError("A plan's description is at most 500 characters.")
    if draft.tier not in PLAN_TIERS:
        raise ValidationError(f"A plan's tier is one of: {', '.join(PLAN_TIERS)}.")
    currency = draft.currency.strip().lower()
    if not re.fullmatch(r"[a-z]{3}", currency):
        raise ValidationError("The currency is a three-letter code, such as usd or eur.")
    for price_id in (draft.stripe_price_month, draft.stripe_price_year):
        if price_id.strip() and not _PRICE_ID.match(price_id.strip()):
            raise ValidationError("A Stripe price id starts with price_ (copy it from the Stripe dashboard).")
    limits = draft.limits
    models = limits.models
    if models is not None:
        offered = {m.key for m in (await ai_catalog.catalog(ctx)).models}
        unknown = [m for m in models if m not in offered]
        if unknown:
            raise ValidationError(f"The plan names a model this workspace does not offer: {unknown[0]}.")
    return {
        "key": key, "name": name, "description": draft.description.strip(), "tier": draft.tier,
        "price_month_cents": _count(draft.price_month_cents, "The monthly price", MAX_PRICE_CENTS),
        "price_year_cents": _count(draft.price_year_cents, "The yearly price", MAX_PRICE_CENTS),
        "currency": currency, "stripe_price_month": draft.stripe_price_month.strip(),
        "stripe_price_year": draft.stripe_price_year.strip(),
        "limits": Limits(
            _count(limits.messages_month, "Messages a month", MAX_LIMIT),
            _count(limits.tokens_month, "Tokens a month", MAX_LIMIT),
            _count(limits.storage_mb, "Storage (MB)", MAX_LIMIT),
            tuple(dict.fromkeys(models)) if models is not None else None,
        ).stored(),
        "position": max(0, min(int(draft.position), 1000)),
    }  # fmt: skip


async def save_plan(ctx: Ctx, draft: PlanDraft, plan_id: uuid.UUID | None = None) -> PlanInfo:
    """A new plan (`plan_id` None) or an edit of one; audited with its key, never its Stripe details."""
    require(ctx, "billing.manage")
    values = await _checked(ctx, draft)
    await ensure_default(ctx.tenant_id)
    async with tenant_session(ctx.tenant_id) as session:
        clash = (
            await session.execute(select(col(Plan.id)).where(col(Plan.key) == values["key"]))
        ).scalar_one_or_none()
        if clash is not None and clash != plan_id:
            raise ValidationError(f"Another plan already has the key “{values['key']}”.")
        if plan_id is None:
            if (await session.execute(select(func.count()).select_from(Plan))).scalar_one() >= MAX_PLANS:
                raise ValidationError(f"A workspace has at most {MAX_PLANS} plans: archive one first.")
            row = Plan(tenant_id=ctx.tenant_id, **values)
        else:
            found = await session.get(Plan, plan_id, with_for_update=True)
            if found is None:
                raise NotFound(NOT_FOUND)
            row = found
            for name, value in values.items():
                setattr(row, name, value)
            row.updated_at = utcnow()
            # The plan's members follow a tier change (the agents' gate reads users.plan).
            await session.execute(update(User).where(col(User.plan_id) == row.id).values(plan=row.tier))
            if row.is_default:
                await session.execute(update(User).where(col(User.plan_id).is_(None)).values(plan=row.tier))
        session.add(row)
        await session.flush()
        audit.record(
            session, ctx.tenant_id, "billing.plan", actor=ctx.user_id, ip=ctx.ip, plan=row.key,
            created=plan_id is None,
        )  # fmt: skip
        return _info(row)


async def set_default(ctx: Ctx, plan_id: uuid.UUID) -> None:
    """The plan every member without one of their own is on (new members too)."""
    require(ctx, "billing.manage")
    async with tenant_session(ctx.tenant_id) as session:
        row = await session.get(Plan, plan_id)
        if row is None or row.archived:
            raise NotFound(NOT_FOUND)
        await session.execute(update(Plan).where(col(Plan.is_default)).values(is_default=False))
        await session.flush()
        await session.execute(update(Plan).where(col(Plan.id) == plan_id).values(is_default=True))
        await session.execute(update(User).where(col(User.plan_id).is_(None)).values(plan=row.tier))
        audit.record(
            session, ctx.tenant_id, "billing.default_plan", actor=ctx.user_id, ip=ctx.ip, plan=row.key
        )


async def archive_plan(ctx: Ctx, plan_id: uuid.UUID, archived: bool = True) -> None:
    """An archived plan is offered to nobody new; its members keep it. The default plan cannot be archived."""
    require(ctx, "billing.manage")
    async with tenant_session(ctx.tenant_id) as session:
        row = await session.get(Plan, plan_id, with_for_update=True)
        if row is None:
            raise NotFound(NOT_FOUND)
        if archived and row.is_default:
            raise ValidationError("The default plan cannot be archived: make another plan the default first.")
        row.archived, row.updated_at = archived, utcnow()
        session.add(row)


async def plan_of(ctx: Ctx, user_id: uuid.UUID | None = None) -> PlanInfo:
    """The plan a member is on (their own, else the workspace's default). Only billing admins ask for others."""
    if user_id is not None and user_id != ctx.user_id:
        require(ctx, "billing.manage")
    who = user_id or ctx.user_id
    for _ in range(2):
        async with tenant_session(ctx.tenant_id) as session:
            row = (
                await session.execute(
                    select(Plan).join(User, col(User.plan_id) == col(Plan.id)).where(col(User.id) == who)
                )
            ).scalar_one_or_none()
            row = (
                row or (await session.execute(select(Plan).where(col(Plan.is_default)))).scalar_one_or_none()
            )
            if row is not None:
                return _info(row)
        await ensure_default(ctx.tenant_id)  # the workspace's first read of plans
    raise NotFound(NOT_FOUND)


async def plans_of_members(ctx: Ctx, user_ids: list[uuid.UUID]) -> dict[uuid.UUID, uuid.UUID | None]:
    """Billing admins: each listed member's own plan (None: on the default one), for the Members page."""
    require(ctx, "billing.manage")
    if not user_ids:
        return {}
    async with tenant_session(ctx.tenant_id) as session:
        rows = await session.execute(
            select(col(User.id), col(User.plan_id)).where(col(User.id).in_(user_ids))
        )
        return {r[0]: r[1] for r in rows.all()}


async def set_member_plan(ctx: Ctx, user_id: uuid.UUID, plan_id: uuid.UUID | None) -> PlanInfo:
    """Admins give a member a plan (a comped one, say); None puts them back on the default plan."""
    require(ctx, "billing.manage")
    return await assign(ctx.tenant_id, user_id, plan_id, actor=ctx.user_id, ip=ctx.ip)


async def assign(
    tenant_id: uuid.UUID,
    user_id: uuid.UUID,
    plan_id: uuid.UUID | None,
    *,
    actor: uuid.UUID | None,
    ip: str = "",
) -> PlanInfo:
    """Put a member on a plan: an admin's choice or, later, what their Stripe subscription pays for."""
    await ensure_default(tenant_id)
    async with tenant_session(tenant_id) as session:
        user = await session.get(User, user_id, with_for_update=True)
        if user is None:
            raise NotFound("That member does not exist in this workspace.")
        if plan_id is None:
            row = (await session.execute(select(Plan).where(col(Plan.is_default)))).scalar_one()
        else:
            found = await session.get(Plan, plan_id)
            if found is None:
                raise NotFound(NOT_FOUND)
            row = found
        user.plan_id = plan_id
        user.plan = row.tier
        user.updated_at = utcnow()
        session.add(user)
        audit.record(
            session, tenant_id, "billing.member_plan", actor=actor, ip=ip, member=str(user_id), plan=row.key
        )
        return _info(row)
