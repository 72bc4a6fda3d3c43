"""Seeding: bulk, deterministic, spread over the asked range, on both backends."""

from __future__ import annotations

import time
from datetime import UTC, date, datetime

import pytest
from sqlalchemy import func, select

from shop.db import SessionFactory, read_session
from shop.models import Order
from shop.seed import seed_orders

UNTIL = date(2024, 6, 30)


def order_fingerprint(factory: SessionFactory) -> list[tuple[object, ...]]:
    with read_session(factory) as session:
        rows = session.execute(
            select(
                Order.customer, Order.product, Order.quantity, Order.amount, Order.created_at
            ).order_by(Order.id)
        )
        return [tuple(row) for row in rows]


def test_the_same_seed_gives_the_same_orders_and_another_seed_does_not(
    session_factory: SessionFactory,
) -> None:
    seed_orders(session_factory, 2_000, days=90, seed=11, until=UNTIL)
    first = order_fingerprint(session_factory)
    seed_orders(session_factory, 2_000, days=90, seed=11, until=UNTIL, replace=True)
    again = order_fingerprint(session_factory)
    seed_orders(session_factory, 2_000, days=90, seed=12, until=UNTIL, replace=True)
    other = order_fingerprint(session_factory)

    assert len(first) == 2_000
    assert first == again
    assert first != other


def test_orders_fall_inside_the_range_with_positive_quantities(
    session_factory: SessionFactory,
) -> None:
    summary = seed_orders(session_factory, 5_000, days=30, seed=3, until=UNTIL)

    with read_session(session_factory) as session:
        low, high, smallest_quantity, smallest_amount, count = session.execute(
            select(
                func.min(Order.created_at),
                func.max(Order.created_at),
                func.min(Order.quantity),
                func.min(Order.amount),
                func.count(),
            )
        ).one()
    assert summary.first_day == date(2024, 6, 1)
    assert summary.last_day == UNTIL
    assert count == 5_000
    assert low >= datetime(2024, 6, 1, tzinfo=UTC)
    assert high < datetime(2024, 7, 1, tzinfo=UTC)
    assert smallest_quantity >= 1
    assert smallest_amount > 0


def test_seeding_appends_unless_told_to_replace(session_factory: SessionFactory) -> None:
    seed_orders(session_factory, 100, days=5, seed=1, until=UNTIL)
    seed_orders(session_factory, 100, days=5, seed=2, until=UNTIL)
    with read_session(session_factory) as session:
        assert session.scalar(select(func.count()).select_from(Order)) == 200
    seed_orders(session_factory, 50, days=5, seed=2, until=UNTIL, replace=True)
    with read_session(session_factory) as session:
        assert session.scalar(select(func.count()).select_from(Order)) == 50


@pytest.mark.parametrize(("count", "days"), [(-1, 10), (10, 0)])
def test_impossible_sizes_are_refused(
    session_factory: SessionFactory, count: int, days: int
) -> None:
    with pytest.raises(ValueError, match="must be"):
        seed_orders(session_factory, count, days=days, until=UNTIL)


@pytest.mark.slow
def test_one_hundred_thousand_orders_seed_in_a_few_seconds(session_factory: SessionFactory) -> None:
    started = time.perf_counter()
    seed_orders(session_factory, 100_000, seed=5, until=UNTIL)
    elapsed = time.perf_counter() - started

    with read_session(session_factory) as session:
        assert session.scalar(select(func.count()).select_from(Order)) == 100_000
    # Generous for a shared 2-core machine; a row-by-row insert takes far longer.
    assert elapsed < 20, f"seeding 100,000 orders took {elapsed:.1f}s"
