"""runtime.queue_order.QueueOrder: strict and weighted queue orders, as in Sidekiq."""

from __future__ import annotations

import random
from collections import Counter

from sidequest.config import QueueSpec
from sidequest.runtime.queue_order import QueueOrder

ISSUE_EXAMPLE = (QueueSpec("default"), QueueSpec("mailers"), QueueSpec("critical", 3))


def test_without_weights_the_order_is_strict() -> None:
    order = QueueOrder([QueueSpec("critical"), QueueSpec("default"), QueueSpec("low")])
    assert not order.weighted
    for _ in range(50):
        assert order.next() == ["critical", "default", "low"]


def test_with_weights_every_fetch_lists_each_queue_once() -> None:
    order = QueueOrder(ISSUE_EXAMPLE, random.Random(3))
    assert order.weighted
    for _ in range(200):
        assert sorted(order.next()) == ["critical", "default", "mailers"]


def test_a_weight_3_queue_comes_first_about_three_fifths_of_the_time() -> None:
    # As Sidekiq: unweighted entries count once, so the list is default, mailers and
    # critical three times; critical is first in 3 of 5 shuffles.
    order = QueueOrder(ISSUE_EXAMPLE, random.Random(20240405))
    draws = 20_000
    firsts = Counter(order.next()[0] for _ in range(draws))
    assert abs(firsts["critical"] / draws - 0.6) < 0.02
    assert abs(firsts["default"] / draws - 0.2) < 0.02
    assert abs(firsts["mailers"] / draws - 0.2) < 0.02


def test_equal_weights_give_each_queue_an_equal_share() -> None:
    order = QueueOrder([QueueSpec("a", 1), QueueSpec("b", 1)], random.Random(11))
    firsts = Counter(order.next()[0] for _ in range(10_000))
    assert abs(firsts["a"] / 10_000 - 0.5) < 0.03


def test_weighted_orders_vary_between_fetches() -> None:
    order = QueueOrder(ISSUE_EXAMPLE, random.Random(7))
    assert len({tuple(order.next()) for _ in range(100)}) > 1


def test_a_seeded_order_is_reproducible() -> None:
    first = QueueOrder(ISSUE_EXAMPLE, random.Random(99))
    second = QueueOrder(ISSUE_EXAMPLE, random.Random(99))
    assert [first.next() for _ in range(20)] == [second.next() for _ in range(20)]
