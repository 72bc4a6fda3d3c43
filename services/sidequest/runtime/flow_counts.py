"""Counts what flow control did in this process (jobs dropped as cancelled or expired,
running jobs cancelled) and adds them to the cluster-wide `sidequest:flow-stats` once
per beat, as JobMetrics does for its counts: one round trip per beat, not per job,
however many expired jobs a backlog holds. The web tier exports the totals
(metrics/cluster.py) and `sidequest stats` shows them."""

from __future__ import annotations

import logging
import threading
from collections import Counter

import redis

from sidequest.middleware import Middleware, ProcessInfo
from sidequest.runtime.store.control import ControlStore

logger = logging.getLogger("sidequest")

CANCELLED = "cancelled"
EXPIRED = "expired"


class FlowCounts(Middleware):
    def __init__(self, store: ControlStore):
        self.store = store
        self._lock = threading.Lock()
        self._counts: Counter[str] = Counter()

    def add(self, name: str, count: int = 1) -> None:
        with self._lock:
            self._counts[name] += count

    def heartbeat(self) -> None:
        self.flush()

    def process_stopping(self, process: ProcessInfo) -> None:
        self.flush()

    def flush(self) -> None:
        with self._lock:
            counts, self._counts = self._counts, Counter()
        if not counts:
            return
        try:
            self.store.add_counts(counts)
        except redis.RedisError as error:
            logger.warning("could not record flow counts (kept for the next beat): %s", error)
            with self._lock:
                self._counts.update(counts)
