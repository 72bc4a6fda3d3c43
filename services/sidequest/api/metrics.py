"""Per-class job metrics over the last hour or day, as the workers recorded them.

The workers' JobMetrics middleware (`sidequest.job_metrics`) writes one hash per ten
UTC minutes and one per UTC hour. The last hour reads 7 ten-minute hashes, the last
day the 24 hour hashes (the current hour included), in one pipelined round trip.
"""

from __future__ import annotations

import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import redis

from sidequest import duration_histogram, keys
from sidequest.api.records import text
from sidequest.job_metrics import EXECUTIONS, FAILURES, HISTOGRAM, TOTAL_MS

WINDOWS = ("hour", "day")


@dataclass
class ClassMetrics:
    """What one job class did over a window, summed over every worker."""

    job_class: str
    executions: int = 0
    failures: int = 0
    total_ms: float = 0.0
    buckets: Counter[int] = field(default_factory=Counter)

    @property
    def mean_ms(self) -> float | None:
        return self.total_ms / self.executions if self.executions else None

    @property
    def p95_ms(self) -> float | None:
        return duration_histogram.percentile(self.buckets, 0.95)

    @property
    def failure_rate(self) -> float:
        return self.failures / self.executions if self.executions else 0.0


class JobMetrics:
    def __init__(self, client: redis.Redis):
        self.redis = client

    def bucket_keys(self, window: str, now: float | None = None) -> list[str]:
        """The metrics hashes that cover `window` ("hour" or "day") up to `now`."""
        moment = datetime.fromtimestamp(time.time() if now is None else now, UTC)
        if window == "hour":
            # The current ten minutes and the six before: the last 60 to 70 minutes.
            slots = (moment - timedelta(minutes=10 * step) for step in range(7))
            return [keys.metrics_bucket(m.strftime("%Y%m%d%H%M")[:-1]) for m in slots]
        if window == "day":
            hours = (moment - timedelta(hours=step) for step in range(24))
            return [keys.metrics_hour_bucket(h.strftime("%Y%m%d%H")) for h in hours]
        raise ValueError(f"window must be one of {', '.join(WINDOWS)}, got {window!r}")

    def by_class(self, window: str, now: float | None = None) -> list[ClassMetrics]:
        """Every class that ran in the window, most executions first."""
        pipe = self.redis.pipeline(transaction=False)
        for key in self.bucket_keys(window, now):
            pipe.hgetall(key)
        # Sum each field over the buckets first and parse each distinct field once: a
        # day of 40 classes is tens of thousands of fields but only a thousand names.
        sums: dict[bytes | str, float] = defaultdict(float)
        for fields in pipe.execute():
            for raw_field, raw_value in fields.items():
                try:
                    sums[raw_field] += float(raw_value)
                except ValueError:
                    continue
        totals: dict[str, ClassMetrics] = defaultdict(lambda: ClassMetrics(""))
        for raw_field, number in sums.items():
            _add(totals, text(raw_field), number)
        for name, metrics in totals.items():
            metrics.job_class = name
        return sorted(totals.values(), key=lambda m: (-m.executions, m.job_class))


def _add(totals: dict[str, ClassMetrics], name: str, number: float) -> None:
    job_class, separator, kind = name.rpartition("|")
    if not separator:
        return
    metrics = totals[job_class]
    if kind == EXECUTIONS:
        metrics.executions += int(number)
    elif kind == FAILURES:
        metrics.failures += int(number)
    elif kind == TOTAL_MS:
        metrics.total_ms += number
    elif kind.startswith(HISTOGRAM) and kind[1:].isdigit():
        metrics.buckets[int(kind[1:])] += int(number)
