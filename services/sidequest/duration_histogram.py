"""Job durations as a fixed histogram, so per-class p95s can be summed across workers.

Workers count each execution in one bucket; readers add the buckets of every worker
and every minute, then read percentiles off the sum. A fixed, shared set of bounds is
what makes the sum meaningful. Bounds grow by half each step from 1 ms to about
11 minutes (34 buckets plus one for anything longer), so an estimate is within 25 %
of the true value, which is plenty for spotting a slow class. Pure, no I/O.
"""

from __future__ import annotations

import bisect
from collections.abc import Mapping

_RATIO = 1.5
# Upper bounds in milliseconds; bucket i holds durations in (BOUNDS_MS[i-1], BOUNDS_MS[i]].
BOUNDS_MS: tuple[float, ...] = tuple(round(_RATIO**step, 3) for step in range(34))
OVERFLOW = len(BOUNDS_MS)  # the bucket for anything longer than the last bound


def bucket(milliseconds: float) -> int:
    """The index of the bucket that counts a duration of `milliseconds`."""
    return bisect.bisect_left(BOUNDS_MS, max(0.0, milliseconds))


def percentile(counts: Mapping[int, int], fraction: float) -> float | None:
    """The duration (ms) below which `fraction` of the counted executions fall.

    Interpolates linearly inside the bucket that holds the percentile. None when
    nothing was counted. Anything in the overflow bucket reads as the last bound.
    """
    if not 0.0 < fraction <= 1.0:
        raise ValueError(f"fraction must be in (0, 1], got {fraction}")
    total = sum(count for count in counts.values() if count > 0)
    if total == 0:
        return None
    target = fraction * total
    seen = 0
    for index in sorted(counts):
        count = counts[index]
        if count <= 0:
            continue
        if seen + count >= target:
            if index >= OVERFLOW:
                return BOUNDS_MS[-1]
            lower = BOUNDS_MS[index - 1] if index > 0 else 0.0
            upper = BOUNDS_MS[index]
            return lower + (upper - lower) * (target - seen) / count
        seen += count
    return BOUNDS_MS[-1]
