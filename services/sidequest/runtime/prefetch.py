"""How many jobs a worker process holds beyond its busy threads.

Held jobs sit in the process's in-flight hash, safe, but unavailable to other
processes. For jobs that take a second, one spare is plenty: a thread that frees up
takes it while the fetcher replaces it, and holding more would only make those jobs
wait behind slow ones. For no-op-fast jobs the opposite holds: a thread finishes one
in tens of microseconds, faster than a round trip to Redis, so the buffer must cover
a round trip's worth of work or threads idle (and small batches cost more commands).

So, unless `prefetch` is set, the process holds enough jobs to keep its threads busy
for about two round trips, from moving averages of the job duration and the exchange
round trip, between 1 and MAX_PREFETCH. Jobs of a few milliseconds (a Redis call, a SQL
query, an HTTP request) want more: the fetcher goes out when half the spare jobs are
gone (manager.py), and a round trip every few jobs costs the process more CPU than the
jobs. So it holds at least as many as its threads finish in HOLD_SECONDS: such a job
waits at most that long behind its neighbours, and other processes lose no more work
than that to this one. Pure arithmetic; the manager and the fetcher feed it
observations.
"""

from __future__ import annotations

MAX_PREFETCH = 100
HOLD_SECONDS = 0.02
_ALPHA = 0.05  # weight of a new observation in the moving averages


class Prefetch:
    def __init__(self, concurrency: int, fixed: int | None):
        self.concurrency = concurrency
        self.fixed = fixed
        # Until jobs were seen, assume slow ones (hold one spare), and a local Redis.
        self.job_seconds = 0.05
        self.round_trip_seconds = 0.0005

    def observe_job(self, seconds: float) -> None:
        # Racy updates from several threads lose an observation now and then; it is an
        # average, and a lock on every job would cost more than it protects.
        self.job_seconds += _ALPHA * (seconds - self.job_seconds)

    def observe_round_trip(self, seconds: float) -> None:
        self.round_trip_seconds += _ALPHA * (seconds - self.round_trip_seconds)

    def spare(self) -> int:
        """Jobs to hold beyond the threads."""
        if self.fixed is not None:
            return self.fixed
        per_job = max(self.job_seconds, 1e-6)
        wanted = int(self.concurrency * 2 * self.round_trip_seconds / per_job)
        held = int(self.concurrency * HOLD_SECONDS / per_job)
        return max(1, min(MAX_PREFETCH, max(wanted, held)))
