"""The worker's part in periodic jobs (sidequest.periodic_jobs): what it publishes at
start, and the ticks its scheduler thread fires.

Publishing (`wanted`, `publish`), once, after the `-r` modules are imported and Redis
answers:
1. the schedules are the config file's `:periodic:` ones and those the modules declared
   with `sidequest.periodic()`; a name in both is a ConfigError (exit 78)
2. each is resolved against the job classes this process registered (their queue and
   retry become its defaults), with a warning for a class this process does not know
3. they replace the published set (PeriodicStore.publish): added, changed and removed
   schedules are logged
A worker whose config file has no `:periodic:` key and whose modules declare nothing
publishes nothing, so a worker deployed without schedules (another pool, an older
release, Ruby's Sidekiq) never erases the fleet's. `:periodic: {}` (or an empty
`:periodic:`) publishes the empty set: it removes every schedule.

Firing (`PeriodicFiring`), on the scheduler thread: the scheduler sleeps until `due`,
then calls `fire`, which runs the process's one PeriodicTicker, tells the middleware
what it pushed and missed (Prometheus is one such middleware), and keeps the ticker's
Redis errors to itself with a Backoff of its own, so that a failing claim delays
neither scheduled jobs nor retries.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import redis

from sidequest.errors import ConfigError
from sidequest.job import registry
from sidequest.middleware import MiddlewareChain
from sidequest.periodic_jobs import declared, resolution
from sidequest.periodic_jobs.schedule import Schedule
from sidequest.periodic_jobs.store import PeriodicStore
from sidequest.periodic_jobs.ticker import FireReport, PeriodicTicker
from sidequest.runtime.backoff import MAX_SECONDS, Backoff

logger = logging.getLogger("sidequest")


def wanted(from_file: Sequence[Schedule] | None) -> list[Schedule] | None:
    """The schedules this worker publishes, resolved; None when it declares none at all."""
    in_code = declared.declared()
    if from_file is None and not in_code:
        return None
    file_names = {schedule.name for schedule in from_file or ()}
    for schedule in in_code:
        if schedule.name in file_names:
            raise ConfigError(
                f"periodic schedule {schedule.name!r} is in the config file and declared "
                "in code (sidequest.periodic): keep one of them"
            )
    schedules = [*(from_file or ()), *in_code]
    for schedule in schedules:
        if registry.resolve(schedule.job_class) is None:
            logger.warning(
                "periodic schedule %r: no job class %r is registered in this worker (a "
                "missing -r module, or a typo?); its jobs go to queue %s, where a worker "
                "that has the class must take them",
                schedule.name,
                schedule.job_class,
                schedule.queue or "default",
            )
    return resolution.resolve_all(schedules)


def publish(store: PeriodicStore, schedules: Sequence[Schedule], now: float) -> None:
    """Make `schedules` the published set and log what changed."""
    published = store.publish(schedules, now)
    changes = [
        f"{verb} {', '.join(names)}"
        for verb, names in (
            ("added", published.added),
            ("changed", published.changed),
            ("removed", published.removed),
        )
        if names
    ]
    logger.info(
        "periodic: %d schedule%s published%s",
        len(schedules),
        "" if len(schedules) == 1 else "s",
        f" ({'; '.join(changes)})" if changes else ", none changed",
    )


class PeriodicFiring:
    """The scheduler's periodic duty: when to wake for the next tick, and firing it."""

    def __init__(self, ticker: PeriodicTicker, middleware: MiddlewareChain):
        self.ticker = ticker
        self.middleware = middleware
        self.backoff = Backoff("periodic ticker")
        self._retry_at = 0.0
        self._broken = False

    def due(self, now: float) -> float:
        """When `fire` must run next (epoch s); at most `now` when it is due."""
        return max(self._retry_at, self.ticker.due(now))

    def fire(self, now: float) -> FireReport | None:
        """Claim and push every due tick; None when it failed (and will be retried)."""
        try:
            report = self.ticker.fire(now)
        except redis.RedisError as error:
            self._retry_at = now + self.backoff.failed(error)
            return None
        except Exception:
            # The loop boundary: bad data in Redis (a watermark that is no number) or a
            # bug must not end the thread that also moves scheduled jobs and retries.
            if not self._broken:
                logger.exception("periodic ticker failed; retrying every %.0f s", MAX_SECONDS)
            self._broken = True
            self._retry_at = now + MAX_SECONDS
            return None
        self.backoff.succeeded()
        if self._broken:
            logger.info("periodic ticker works again")
            self._broken = False
        self._retry_at = 0.0
        self._tell(report)
        return report

    def _tell(self, report: FireReport) -> None:
        for job in report.enqueued:
            logger.debug(
                "periodic %s: tick %d enqueued as %s, %.4f s after it",
                job.name,
                job.tick,
                job.jid,
                job.lateness,
            )
            self.middleware.periodic_enqueued(job.name, job.tick, job.lateness, job.caught_up)
        for name, count in report.missed.items():
            self.middleware.periodic_missed(name, count)
