"""How the Plans page shows prices and a plan's limits."""

from __future__ import annotations

import uuid

from services.billing.plans import Limits, PlanInfo
from state.plans import limit_lines, price


def test_prices_and_limits_read_as_people_write_them() -> None:
    assert price(2900, "usd", "month") == "$29 / month"
    assert price(2950, "eur", "month") == "€29.50 / month"
    assert price(120000, "chf", "year") == "1,200 CHF / year"
    assert (price(0, "usd", "month"), price(None, "usd", "month")) == ("Free", "")
    plan = PlanInfo(
        uuid.uuid4(), "pro", "Pro", "", "pro", 2900, None, "usd", "", "", Limits(500, None, 2048, ("mine/gpt-4o",)),
        False, False, 0,
    )  # fmt: skip
    assert limit_lines(plan) == ["500 messages a month", "2,048 MB of files", "Models: gpt-4o"]
    free = PlanInfo(
        uuid.uuid4(), "free", "Free", "", "free", None, None, "usd", "", "", Limits(), True, False, 0
    )
    assert limit_lines(free) == ["Unlimited messages", "Every model of the workspace"]
