"""PeriodicOutcomes: the worker middleware that notes how each periodic job ended, so that
`sidequest periodic list` and the dashboard show the latest tick's outcome.

Every worker runs it (the launcher adds it, as it adds the Redis job metrics), so the
outcome is recorded by whichever process ran the job, whatever process pushed it. It
writes only for jobs whose payload names a schedule (`periodic`), one periodic_outcome.lua
call each, which keeps the outcome only while the job is still its schedule's latest (or
its latest run outside the schedule). Outcomes are the middleware's labels: succeeded,
retried, dead, discarded; a retried job that later succeeds ends as succeeded.

Written at once on the job's thread rather than buffered for the heartbeat: periodic
jobs are a few per second at most, and a person who clicks "Run now" wants to see the
outcome as soon as the job ends.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import redis

from sidequest.middleware import JobContext, Middleware
from sidequest.periodic_jobs.store import PeriodicStore

logger = logging.getLogger("sidequest")


class PeriodicOutcomes(Middleware):
    def __init__(self, store: PeriodicStore, clock: Callable[[], float] = time.time):
        self.store = store
        self.clock = clock

    def job_finished(
        self, job: JobContext, outcome: str, duration: float, error: BaseException | None
    ) -> None:
        if job.periodic is None:
            return
        try:
            self.store.record_outcome(job.periodic, job.jid, outcome, self.clock())
        except redis.RedisError as redis_error:
            # The job's own outcome is written by the fetcher and retried there; this note
            # is only what the list shows, so it is not worth holding a job thread for.
            logger.warning(
                "could not record the outcome of periodic job %s (%s): %s",
                job.jid,
                job.periodic,
                redis_error,
            )
