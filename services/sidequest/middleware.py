"""Hooks around the worker's life, each job's execution and the periodic ticks it pushes.

Cross-cutting behaviour (Prometheus metrics, per-class metrics in Redis, periodic jobs'
outcomes, tracing) attaches here instead of living in the runtime, which never imports
prometheus_client. Every hook is a no-op by default; override the ones you need. Job
hooks run on the job's own thread, periodic hooks on the scheduler's; all must be quick
and must not raise: an exception in a hook is logged and swallowed so it cannot change
a job's outcome or delay the next tick.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

logger = logging.getLogger("sidequest")

# Outcomes passed to job_finished.
SUCCEEDED = "succeeded"
RETRIED = "retried"
DEAD = "dead"
DISCARDED = "discarded"
#: a running job stopped by a cancel (`sidequest cancel`): dropped, not retried
CANCELLED = "cancelled"


@dataclass(slots=True)
class JobContext:
    """What middleware may know about one execution (from the raw payload)."""

    jid: str
    job_class: str
    queue: str
    enqueued_at: float | None
    started_at: float
    #: the periodic schedule that enqueued the job (the payload's `periodic`), if any
    periodic: str | None = None
    #: the job runs on the event loop (its perform is `async def`), not on a thread
    on_loop: bool = False
    #: the decoded payload (read it, never change it): fields of middleware's own, such
    #: as the trace context `sidequest.tracing` carries in `traceparent`
    payload: dict[str, Any] | None = None


@dataclass(frozen=True)
class ProcessInfo:
    identity: str
    concurrency: int
    queues: tuple[str, ...]
    #: async job slots on the event loop (0: the process has no async job classes)
    async_concurrency: int = 0


class Middleware:
    def process_started(self, process: ProcessInfo) -> None:
        """The worker process started its threads."""

    def process_stopping(self, process: ProcessInfo) -> None:
        """The worker process is shutting down."""

    def job_started(self, job: JobContext) -> None:
        """A job is about to run on this thread."""

    def job_finished(
        self, job: JobContext, outcome: str, duration: float, error: BaseException | None
    ) -> None:
        """A job ran: `outcome` is succeeded, retried, dead, discarded or cancelled
        (`error` is None for a cancelled job: it did not fail)."""

    def heartbeat(self) -> None:
        """Called on the heartbeat thread at every beat (flush buffered data here)."""

    def periodic_enqueued(self, name: str, tick: int, lateness: float, caught_up: bool) -> None:
        """This process pushed schedule `name`'s job for `tick` (epoch s), `lateness` s after
        it (by this process's clock). `caught_up`: the tick was missed (no worker ran at
        its time) and is run now by the schedule's `missed` policy. On the scheduler thread.
        """

    def periodic_missed(self, name: str, count: int) -> None:
        """This process found `count` ticks of `name` past their grace, run or not."""

    def loop_blocked(self, holder: str) -> None:
        """Synchronous code blocked the event loop of async jobs for over a second;
        `holder` names the job. On the loop's monitor thread."""

    def job_limited(self, job_class: str, verdict: str) -> None:
        """A job's limits refused its start (sidequest.limits): `verdict` is "parked"
        (waiting for a concurrency slot) or "throttled" (waiting for a rate limit's next
        start). On a processor thread."""

    def job_admitted_after_wait(self, job_class: str, waited: float) -> None:
        """A job refused before got its slots and starts `waited` seconds after its first
        refusal (Redis clock). On a processor thread."""


class MiddlewareChain:
    """Calls every middleware's hook in order, isolating failures."""

    def __init__(self, middleware: Sequence[Middleware] = ()):
        self.items = tuple(middleware)
        # The two hooks called for every job: only the middleware that define them, as
        # bound methods (most built-in ones watch only finished jobs, or neither).
        self._started = _overriding(self.items, "job_started")
        self._finished = _overriding(self.items, "job_finished")

    def __bool__(self) -> bool:
        return bool(self.items)

    def process_started(self, process: ProcessInfo) -> None:
        for item in self.items:
            _guard(item.process_started, process)

    def process_stopping(self, process: ProcessInfo) -> None:
        for item in self.items:
            _guard(item.process_stopping, process)

    def job_started(self, job: JobContext) -> None:
        for hook in self._started:
            _guard(hook, job)

    def job_finished(
        self, job: JobContext, outcome: str, duration: float, error: BaseException | None
    ) -> None:
        for hook in self._finished:
            _guard(hook, job, outcome, duration, error)

    def heartbeat(self) -> None:
        for item in self.items:
            _guard(item.heartbeat)

    def periodic_enqueued(self, name: str, tick: int, lateness: float, caught_up: bool) -> None:
        for item in self.items:
            _guard(item.periodic_enqueued, name, tick, lateness, caught_up)

    def periodic_missed(self, name: str, count: int) -> None:
        for item in self.items:
            _guard(item.periodic_missed, name, count)

    def loop_blocked(self, holder: str) -> None:
        for item in self.items:
            _guard(item.loop_blocked, holder)

    def job_limited(self, job_class: str, verdict: str) -> None:
        for item in self.items:
            _guard(item.job_limited, job_class, verdict)

    def job_admitted_after_wait(self, job_class: str, waited: float) -> None:
        for item in self.items:
            _guard(item.job_admitted_after_wait, job_class, waited)


def _overriding(items: Sequence[Middleware], name: str) -> tuple[Callable[..., None], ...]:
    """The bound `name` hooks of the items, leaving out Middleware's own no-op."""
    base = getattr(Middleware, name)
    hooks = []
    for item in items:
        if getattr(type(item), name, None) is base:
            continue
        hook = getattr(item, name, None)
        if hook is not None:
            hooks.append(hook)
    return tuple(hooks)


def _guard(hook: object, *args: object) -> None:
    try:
        hook(*args)  # type: ignore[operator]
    except Exception:
        logger.exception("middleware hook %r failed", hook)
