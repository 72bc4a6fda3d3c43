"""Per-class job metrics in Redis, recorded by every worker: the dashboard's Metrics page.

`JobMetrics` is a middleware. `job_finished` (on the job's thread) adds the execution
to an in-memory tally per ten UTC minutes and class; `heartbeat` (on the heartbeat thread)
flushes the tally with one pipelined write per beat: HINCRBY into the 10-minute hash
and the hour hash (`keys.metrics_bucket`, `keys.metrics_hour_bucket`) and an EXPIRE on
each, so Redis memory stays bounded by the TTLs whatever the traffic. A beat that
cannot reach Redis keeps its tally for the next beat; tallies older than the 10-minute
TTL are dropped instead of growing without end while Redis is away.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

import redis

from sidequest import duration_histogram, keys
from sidequest.middleware import CANCELLED, SUCCEEDED, JobContext, Middleware, ProcessInfo

logger = logging.getLogger("sidequest")

# Hash field suffixes; the class name comes first and may itself contain "|",
# so readers split on the last one.
EXECUTIONS = "p"
FAILURES = "f"
TOTAL_MS = "ms"
HISTOGRAM = "h"


@dataclass
class Tally:
    """What one class did in ten minutes on this process."""

    executions: int = 0
    failures: int = 0
    total_ms: float = 0.0
    buckets: Counter[int] = field(default_factory=Counter)

    def add(self, other: Tally) -> None:
        self.executions += other.executions
        self.failures += other.failures
        self.total_ms += other.total_ms
        self.buckets.update(other.buckets)


def ten_minutes_of(moment: float) -> str:
    """`YYYYMMDDHHM`: ten-minute slots keep the last hour to 7 small hashes to read."""
    return datetime.fromtimestamp(moment, UTC).strftime("%Y%m%d%H%M")[:-1]


class JobMetrics(Middleware):
    def __init__(self, client: redis.Redis, clock: Callable[[], float] = time.time):
        self.redis = client
        self._clock = clock
        self._lock = threading.Lock()
        self._pending: dict[tuple[str, str], Tally] = {}
        self._minute_start = float("-inf")
        self._minute = ""

    def job_finished(
        self, job: JobContext, outcome: str, duration: float, error: BaseException | None
    ) -> None:
        milliseconds = max(0.0, duration * 1000.0)
        now = self._clock()
        # Formatting a datetime costs more than the rest of this hook: do it once a minute.
        if not self._minute_start <= now < self._minute_start + 60.0:
            self._minute_start = now - now % 60.0
            self._minute = ten_minutes_of(now)
        minute = self._minute
        with self._lock:
            slot = (minute, job.job_class)
            tally = self._pending.get(slot)
            if tally is None:  # not setdefault: building a Tally per job is the costly part
                tally = self._pending[slot] = Tally()
            tally.executions += 1
            # A cancelled job stopped on request: it did not fail.
            tally.failures += outcome not in (SUCCEEDED, CANCELLED)
            tally.total_ms += milliseconds
            tally.buckets[duration_histogram.bucket(milliseconds)] += 1

    def heartbeat(self) -> None:
        self.flush()

    def process_stopping(self, process: ProcessInfo) -> None:
        self.flush()

    def flush(self) -> bool:
        """Write the pending tallies in one pipeline; False (and kept) if Redis failed."""
        with self._lock:
            pending, self._pending = self._pending, {}
        if not pending:
            return True
        pipe = self.redis.pipeline(transaction=False)
        touched: set[tuple[str, int]] = set()
        for (slot, job_class), tally in pending.items():
            for key, ttl in (
                (keys.metrics_bucket(slot), keys.METRICS_TEN_MINUTES_TTL_SECONDS),
                (keys.metrics_hour_bucket(slot[:10]), keys.METRICS_HOUR_TTL_SECONDS),
            ):
                _write(pipe, key, job_class, tally)
                touched.add((key, ttl))
        for key, ttl in touched:
            pipe.expire(key, ttl)
        try:
            pipe.execute()
        except redis.RedisError as error:
            logger.warning("could not record job metrics (kept for the next beat): %s", error)
            self._keep(pending)
            return False
        return True

    def _keep(self, pending: dict[tuple[str, str], Tally]) -> None:
        oldest = ten_minutes_of(self._clock() - keys.METRICS_TEN_MINUTES_TTL_SECONDS)
        with self._lock:
            for slot, tally in pending.items():
                if slot[0] >= oldest:
                    self._pending.setdefault(slot, Tally()).add(tally)


def _write(pipe: redis.client.Pipeline, key: str, job_class: str, tally: Tally) -> None:
    prefix = job_class + "|"
    pipe.hincrby(key, prefix + EXECUTIONS, tally.executions)
    if tally.failures:
        pipe.hincrby(key, prefix + FAILURES, tally.failures)
    pipe.hincrbyfloat(key, prefix + TOTAL_MS, round(tally.total_ms, 3))
    for index, count in tally.buckets.items():
        pipe.hincrby(key, f"{prefix}{HISTOGRAM}{index}", count)
