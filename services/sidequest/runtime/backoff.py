"""How a worker thread waits after a Redis error, and what it logs about it.

Every thread that talks to Redis (fetcher, scheduler, queue waiters, heartbeat, and
the launcher waiting for Redis at start) catches Redis errors at its loop boundary
and tries again. They share one policy:
1. wait 0.1 s after the first error of a run, doubling up to 2 s, each wait spread by
   ±50 % so that the threads and processes that lost Redis together do not all come
   back in the same millisecond;
2. log the first error of a run only (a Redis down for a minute is one warning per
   thread, not hundreds), and log once when Redis answers again.
The heartbeat keeps its own interval (the lease must be renewed on time) and only
counts and logs through its Backoff.
"""

from __future__ import annotations

import logging
import random

logger = logging.getLogger("sidequest")

FIRST_SECONDS = 0.05  # times 2 at the first error: 0.1 s
MAX_SECONDS = 2.0
_MAX_DOUBLINGS = 6


class Backoff:
    def __init__(self, who: str):
        self.who = who
        self.failures = 0

    def failed(self, error: Exception) -> float:
        """Count a Redis error; returns how many seconds to wait before trying again."""
        self.failures += 1
        if self.failures == 1:
            logger.warning("%s: Redis error: %s; retrying", self.who, error)
        delay: float = min(MAX_SECONDS, FIRST_SECONDS * 2 ** min(self.failures, _MAX_DOUBLINGS))
        return delay * (0.5 + random.random())

    def succeeded(self) -> None:
        """Redis answered: the next error starts a new run."""
        if self.failures:
            logger.info("%s: Redis is reachable again", self.who)
            self.failures = 0
