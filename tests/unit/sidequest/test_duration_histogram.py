"""The shared duration histogram: bucket edges and percentiles read off summed counts."""

from __future__ import annotations

from collections import Counter

import pytest

from sidequest import duration_histogram as histogram


def test_buckets_grow_by_half_and_cover_ten_minutes() -> None:
    assert histogram.BOUNDS_MS[0] == 1.0
    for lower, upper in zip(histogram.BOUNDS_MS, histogram.BOUNDS_MS[1:], strict=False):
        assert upper == pytest.approx(lower * 1.5, rel=0.01)
    assert histogram.BOUNDS_MS[-1] > 10 * 60 * 1000


def test_a_duration_lands_in_the_first_bucket_whose_bound_holds_it() -> None:
    assert histogram.bucket(0) == 0
    assert histogram.bucket(1.0) == 0
    assert histogram.bucket(1.2) == 1
    assert histogram.bucket(-5) == 0
    assert histogram.bucket(10**9) == histogram.OVERFLOW


def test_percentiles_of_summed_counts_are_within_a_bucket() -> None:
    durations = [float(ms) for ms in range(1, 1001)]  # 1..1000 ms, p95 = 950
    counts = Counter(histogram.bucket(ms) for ms in durations)
    p95 = histogram.percentile(counts, 0.95)
    assert p95 is not None and 950 / 1.5 <= p95 <= 950 * 1.5
    median = histogram.percentile(counts, 0.5)
    assert median is not None and 500 / 1.5 <= median <= 500 * 1.5


def test_percentile_edge_cases() -> None:
    assert histogram.percentile({}, 0.95) is None
    assert histogram.percentile({histogram.OVERFLOW: 3}, 0.95) == histogram.BOUNDS_MS[-1]
    with pytest.raises(ValueError, match="fraction"):
        histogram.percentile({1: 1}, 0)
