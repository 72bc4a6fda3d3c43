"""Generated orders: deterministic, inside the range, shaped like a real shop."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime

import pytest

from shop.catalogue import CATALOGUE
from shop.seed import BATCH_SIZE, day_weight, generate_orders

UNTIL = date(2024, 12, 31)


def flat(count: int, **options: object) -> list[dict[str, object]]:
    return [row for batch in generate_orders(count, until=UNTIL, **options) for row in batch]  # type: ignore[arg-type]


def test_same_arguments_give_the_same_rows() -> None:
    assert flat(500, seed=4) == flat(500, seed=4)
    assert flat(500, seed=4) != flat(500, seed=5)


def test_rows_come_in_batches_and_stay_in_the_range() -> None:
    batches = list(generate_orders(BATCH_SIZE + 10, days=10, seed=1, until=UNTIL))
    assert [len(b) for b in batches] == [BATCH_SIZE, 10]
    for row in (row for batch in batches for row in batch):
        assert (
            datetime(2024, 12, 22, tzinfo=UTC)
            <= row["created_at"]
            < datetime(2025, 1, 1, tzinfo=UTC)
        )


def test_amounts_match_catalogue_prices_up_to_a_discount() -> None:
    prices = {p.name: p.unit_price for p in CATALOGUE}
    rows = flat(2_000, seed=2)
    for row in rows:
        full = prices[str(row["product"])] * int(str(row["quantity"]))
        assert full * 8 / 10 <= row["amount"] <= full  # type: ignore[operator]
    discounted = sum(
        1 for r in rows if r["amount"] != prices[str(r["product"])] * int(str(r["quantity"]))
    )
    assert 0.05 < discounted / len(rows) < 0.2


def test_the_data_has_seasons_favourites_and_loyal_customers() -> None:
    rows = flat(20_000, seed=3, days=366)
    months = Counter(row["created_at"].month for row in rows)  # type: ignore[attr-defined]
    assert months[12] > 1.5 * months[8]
    products = Counter(row["product"] for row in rows)
    assert products["Filter Coffee 500g"] > 20 * products["Espresso Machine"]
    customers = Counter(row["customer"] for row in rows).most_common()
    assert customers[0][1] > 10 * customers[-1][1]


def test_weekends_weigh_more_than_mondays() -> None:
    monday, saturday = date(2024, 6, 3), date(2024, 6, 8)
    assert day_weight(saturday, 0, 10) > day_weight(monday, 0, 10)


@pytest.mark.parametrize(("count", "days"), [(-1, 10), (10, 0), (10**9, 10)])
def test_impossible_sizes_are_refused_eagerly(count: int, days: int) -> None:
    with pytest.raises(ValueError, match="must be"):
        generate_orders(count, days=days, until=UNTIL)
