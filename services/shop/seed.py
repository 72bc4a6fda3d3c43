"""Seeding: a realistic, reproducible set of orders for the reports to work on.

Orders spread over `days` days ending on `until`, with the patterns a shop shows:
a gentle growth trend, busier weekends, a summer lull and a pre-Christmas peak,
afternoon and evening hours, a few loyal customers who buy a lot, cheap items bought
by the handful and the occasional discount. The same seed, count, days and end date
always give the same orders; only `until` (today by default) moves the calendar.
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from itertools import accumulate
from typing import Any

from sqlalchemy import delete, insert

from shop.catalogue import CATALOGUE, FIRST_NAMES, LAST_NAMES, Product
from shop.db.engine import SessionFactory, write_session
from shop.models import Order, table_of

DEFAULT_DAYS = 365
BATCH_SIZE = 5_000
MAX_SEED_COUNT = 10_000_000

_CENT = Decimal("0.01")
# Relative order volume by weekday (Monday first) and by month (January first).
_WEEKDAY_FACTOR = (0.85, 0.9, 0.95, 1.0, 1.15, 1.35, 1.2)
_MONTH_FACTOR = (0.8, 0.85, 0.95, 1.0, 1.0, 0.9, 0.8, 0.75, 0.95, 1.05, 1.3, 1.6)
_HOUR_WEIGHTS = (
    0.2, 0.1, 0.05, 0.05, 0.05, 0.1, 0.4, 0.9, 1.4, 1.8, 2.0, 2.2,
    2.4, 2.2, 2.0, 2.1, 2.4, 2.8, 3.2, 3.4, 3.0, 2.2, 1.3, 0.6,
)  # fmt: skip
_QUANTITIES = (1, 2, 3, 4, 6, 10)
_QUANTITY_WEIGHTS_CHEAP = (50, 22, 12, 7, 6, 3)
_QUANTITY_WEIGHTS_DEAR = (90, 8, 1.5, 0.4, 0.1, 0.0)
_CHEAP_BELOW = Decimal("15.00")
_DISCOUNT_SHARE = 0.12
_DISCOUNTS = (Decimal("0.90"), Decimal("0.85"), Decimal("0.80"))


@dataclass(frozen=True)
class SeedSummary:
    """What a seeding run inserted.

    Attributes:
        count: Number of orders inserted.
        first_day: Earliest day orders may fall on.
        last_day: Latest day orders may fall on (`until`).
    """

    count: int
    first_day: date
    last_day: date


def seed_orders(
    session_factory: SessionFactory,
    count: int,
    *,
    days: int = DEFAULT_DAYS,
    seed: int = 0,
    until: date | None = None,
    replace: bool = False,
) -> SeedSummary:
    """Insert `count` generated orders in one transaction, in bulk.

    Args:
        session_factory: Where to insert.
        count: Number of orders to generate.
        days: Length of the date range the orders fall in.
        seed: Random seed; equal arguments give equal orders.
        until: Last day of the range; today (UTC) when omitted.
        replace: Delete every existing order first (in the same transaction).

    Raises:
        ValueError: `count` or `days` is out of range.
        sqlalchemy.exc.OperationalError: The database cannot be written.
    """
    last_day = until if until is not None else datetime.now(UTC).date()
    batches = generate_orders(count, days=days, seed=seed, until=last_day)
    orders = table_of(Order)
    with write_session(session_factory) as session:
        if replace:
            session.execute(delete(orders))
        for batch in batches:
            session.execute(insert(orders), batch)
    return SeedSummary(
        count=count, first_day=last_day - timedelta(days=days - 1), last_day=last_day
    )


def generate_orders(
    count: int, *, days: int = DEFAULT_DAYS, seed: int = 0, until: date
) -> Iterator[list[dict[str, Any]]]:
    """Generate order rows (column name to value) in batches of `BATCH_SIZE`.

    Raises:
        ValueError: `count` is negative or too large, or `days` is not positive.
    """
    if not 0 <= count <= MAX_SEED_COUNT:
        raise ValueError(f"count must be between 0 and {MAX_SEED_COUNT}, got {count}")
    if days < 1:
        raise ValueError(f"days must be at least 1, got {days}")
    # Validation happens above, eagerly; the generator below does the lazy work.
    return _order_batches(count, days, seed, until)


def _order_batches(count: int, days: int, seed: int, until: date) -> Iterator[list[dict[str, Any]]]:
    rng = random.Random(seed)
    first_day = until - timedelta(days=days - 1)
    day_cumulative = list(
        accumulate(day_weight(first_day + timedelta(d), d, days) for d in range(days))
    )
    hour_cumulative = list(accumulate(_HOUR_WEIGHTS))
    customers = _customer_names(max(50, count // 8))
    # Loyal customers first: the i-th customer orders about 1/(i+1)^0.8 as often.
    customer_cumulative = list(accumulate(1 / (i + 1) ** 0.8 for i in range(len(customers))))
    product_cumulative = list(accumulate(p.popularity for p in CATALOGUE))

    remaining = count
    while remaining:
        size = min(BATCH_SIZE, remaining)
        remaining -= size
        day_offsets = rng.choices(range(days), cum_weights=day_cumulative, k=size)
        hours = rng.choices(range(24), cum_weights=hour_cumulative, k=size)
        buyers = rng.choices(customers, cum_weights=customer_cumulative, k=size)
        products = rng.choices(CATALOGUE, cum_weights=product_cumulative, k=size)
        yield [
            _order_row(rng, first_day + timedelta(days=day_offset), hour, buyer, product)
            for day_offset, hour, buyer, product in zip(
                day_offsets, hours, buyers, products, strict=True
            )
        ]


def day_weight(day: date, index: int, days: int) -> float:
    """Relative order volume on `day`, the `index`-th of `days` days.

    Combines a 30 % growth over the range with weekday and month factors and a peak
    in the two weeks before Christmas.
    """
    trend = 1.0 + 0.3 * index / max(days - 1, 1)
    christmas_rush = 1.5 if day.month == 12 and 10 <= day.day <= 23 else 1.0
    return trend * _WEEKDAY_FACTOR[day.weekday()] * _MONTH_FACTOR[day.month - 1] * christmas_rush


def _order_row(
    rng: random.Random, day: date, hour: int, buyer: str, product: Product
) -> dict[str, Any]:
    weights = (
        _QUANTITY_WEIGHTS_CHEAP if product.unit_price < _CHEAP_BELOW else _QUANTITY_WEIGHTS_DEAR
    )
    quantity = rng.choices(_QUANTITIES, weights=weights)[0]
    amount = product.unit_price * quantity
    if rng.random() < _DISCOUNT_SHARE:
        amount = (amount * rng.choice(_DISCOUNTS)).quantize(_CENT, rounding=ROUND_HALF_UP)
    moment = datetime.combine(
        day,
        time(hour, rng.randrange(60), rng.randrange(60)),
        tzinfo=UTC,
    )
    return {
        "customer": buyer,
        "product": product.name,
        "quantity": quantity,
        "amount": amount,
        "created_at": moment,
    }


def _customer_names(size: int) -> Sequence[str]:
    combinations = [f"{first} {last}" for last in LAST_NAMES for first in FIRST_NAMES]
    names = []
    for index in range(size):
        base = combinations[index % len(combinations)]
        round_number = index // len(combinations)
        # Past the name combinations, namesakes are told apart by a number.
        names.append(base if round_number == 0 else f"{base} {round_number + 1}")
    return names
