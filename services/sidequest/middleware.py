"""Hooks around the worker's life and each job's execution.

Cross-cutting behaviour (Prometheus metrics, per-class metrics in Redis, tracing)
attaches here instead of living in the runtime, which never imports prometheus_client.
Every hook is a no-op by default; override the ones you need. Hooks run on the job's
own thread and must be quick and must not raise: an exception in a hook is logged and
swallowed so it cannot change a job's outcome.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

logger = logging.getLogger("sidequest")

# Outcomes passed to job_finished.
SUCCEEDED = "succeeded"
RETRIED = "retried"
DEAD = "dead"
DISCARDED = "discarded"


@dataclass(slots=True)
class JobContext:
    """What middleware may know about one execution (from the raw payload)."""

    jid: str
    job_class: str
    queue: str
    enqueued_at: float | None
    started_at: float


@dataclass(frozen=True)
class ProcessInfo:
    identity: str
    concurrency: int
    queues: tuple[str, ...]


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
        """A job ran: `outcome` is succeeded, retried, dead or discarded."""

    def heartbeat(self) -> None:
        """Called on the heartbeat thread at every beat (flush buffered data here)."""


class MiddlewareChain:
    """Calls every middleware's hook in order, isolating failures."""

    def __init__(self, middleware: Sequence[Middleware] = ()):
        self.items = tuple(middleware)

    def __bool__(self) -> bool:
        return bool(self.items)

    def process_started(self, process: ProcessInfo) -> None:
        for item in self.items:
            _guard(item.process_started, process)

    def process_stopping(self, process: ProcessInfo) -> None:
        for item in self.items:
            _guard(item.process_stopping, process)

    def job_started(self, job: JobContext) -> None:
        for item in self.items:
            _guard(item.job_started, job)

    def job_finished(
        self, job: JobContext, outcome: str, duration: float, error: BaseException | None
    ) -> None:
        for item in self.items:
            _guard(item.job_finished, job, outcome, duration, error)

    def heartbeat(self) -> None:
        for item in self.items:
            _guard(item.heartbeat)


def _guard(hook: object, *args: object) -> None:
    try:
        hook(*args)  # type: ignore[operator]
    except Exception:
        logger.exception("middleware hook %r failed", hook)
