"""The Plans page (/plans): the workspace's plans, the member's own, and how much of its monthly quotas and
storage they have used. Everything is read on the server for the member asking; the gates themselves are
services/billing/entitlements.py's (this page only shows them)."""

from __future__ import annotations

from typing import Any

import reflex as rx

from services.billing import entitlements, plans
from services.billing.plans import PlanInfo
from services.errors import ServiceError
from services.files import records
from state.session import require_user

SYMBOLS = {"usd": "$", "eur": "€", "gbp": "£"}


def price(cents: int | None, currency: str, period: str) -> str:
    if cents is None:
        return ""
    if cents == 0:
        return "Free"
    amount = f"{cents / 100:,.2f}".removesuffix(".00")
    symbol = SYMBOLS.get(currency)
    return f"{symbol}{amount} / {period}" if symbol else f"{amount} {currency.upper()} / {period}"


def limit_lines(plan: PlanInfo) -> list[str]:
    limits = plan.limits
    lines = [
        f"{limits.messages_month:,} messages a month"
        if limits.messages_month is not None
        else "Unlimited messages",
    ]
    if limits.tokens_month is not None:
        lines.append(f"{limits.tokens_month:,} tokens a month")
    if limits.storage_mb is not None:
        lines.append(f"{limits.storage_mb:,} MB of files")
    if limits.models is not None:
        names = [m.split("/", 1)[-1] for m in limits.models]
        lines.append("Models: " + (", ".join(names) if names else "none"))
    else:
        lines.append("Every model of the workspace")
    return lines


def _meter(label: str, used: float, limit: float | None, unit: str = "") -> dict[str, Any]:
    if limit is None:
        return {
            "label": label,
            "text": f"{used:,.0f}{unit} used (no limit)",
            "percent": 0,
            "limited": False,
            "near": False,
        }
    percent = min(100, round(100 * used / limit)) if limit else 100
    return {
        "label": label,
        "text": f"{used:,.0f}{unit} of {limit:,.0f}{unit}",
        "percent": percent,
        "limited": True,
        "near": percent >= 80,
    }


class PlansState(rx.State):
    loaded: bool = False
    error: str = ""
    current: str = ""  # the member's plan's name
    renews: str = ""
    plans: list[dict[str, Any]] = []
    meters: list[dict[str, Any]] = []

    @rx.event
    async def load(self):
        self.error, self.loaded = "", False
        try:
            ctx = await require_user(self, "workspace.use")
            offered = await plans.list_plans(ctx)
            mine = await plans.plan_of(ctx)
            used = await entitlements.usage_this_month(ctx)
            storage = await records.usage(ctx)
        except ServiceError as exc:
            self.error = str(exc)
            return
        self.current = mine.name
        self.renews = entitlements.renewal(used.since)
        self.plans = [
            {
                "key": p.key,
                "name": p.name,
                "description": p.description,
                "month": price(p.price_month_cents, p.currency, "month"),
                "year": price(p.price_year_cents, p.currency, "year"),
                "limits": limit_lines(p),
                "current": p.id == mine.id,
            }
            for p in ([*offered, mine] if all(o.id != mine.id for o in offered) else offered)
        ]
        limits = mine.limits
        self.meters = [
            _meter("Messages this month", used.messages, limits.messages_month),
            _meter("Tokens this month", used.tokens, limits.tokens_month),
            _meter("Files", storage.user_bytes / (1024 * 1024), limits.storage_mb, " MB"),
        ]
        self.loaded = True
