"""Runs one fetched job with an `async def perform` on the event loop; says how it ended.

The coroutine twin of executor.py, reusing its decisions (Executor.failed: retry_on,
discard_on, the default policy), its job log and its middleware calls, so that an
async job ends exactly as a thread's job would. What differs:

1. a payload whose class turns out to have a plain `perform` (the class-name peek of
   async_runtime.py can be fooled by a payload listing its arguments before its
   class) is handed back to the processor threads: REROUTE
2. `timeout` cancels the job's task at its deadline: `asyncio.CancelledError` is
   raised at the job's `await`, and the execution fails with JobTimeoutError, retried
   as a thread's timeout is. A job that swallows the cancellation and keeps running
   past `timeout_grace` is abandoned: its failure is reported at once, its slot freed,
   and whatever it does later is ignored (AsyncRun.abandoned)
3. marking the run of a recovered job (RunningMarks) is a Redis call: it runs in a
   thread of the loop's executor, not on the loop
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from sidequest import payload
from sidequest.errors import JobTimeoutError, MalformedPayloadError, UnknownJobError
from sidequest.job import async_perform
from sidequest.job.base import Job
from sidequest.middleware import SUCCEEDED, JobContext
from sidequest.runtime import failure, resolution
from sidequest.runtime.executor import (
    Executor,
    _next_attempt,
    _periodic_name,
    _seconds,
    _unique_digest,
)
from sidequest.runtime.fetched import Fetched
from sidequest.runtime.outcome import Ack, Failure, Outcome

logger = logging.getLogger("sidequest")

_JOB_ERRORS = (Exception, SystemExit, KeyboardInterrupt)


class Reroute:
    """Sentinel: the job's perform is synchronous; it belongs on the threads."""


REROUTE: Final = Reroute()


@dataclass(slots=True, eq=False)
class AsyncRun:
    """One job on the loop, shared by its task, the runtime and the block monitor."""

    job: Fetched
    started_at: float
    serial: int
    task: asyncio.Task[None] | None = None
    context: JobContext | None = None
    #: seconds of the job's timeout, once known
    timeout: float | None = None
    timed_out: bool = False
    abandoned: bool = False
    #: cancelled by a graceful shutdown: pushed back to its queue, no outcome
    shutdown: bool = False
    timers: tuple[asyncio.TimerHandle, ...] = ()

    def describe(self) -> str:
        context = self.context
        if context is None:
            return f"a job from queue {self.job.queue}"
        return f"{context.job_class} {context.jid} (queue {context.queue})"


class AsyncExecutor:
    def __init__(self, executor: Executor, grace: float):
        self.executor = executor
        self.grace = grace
        self.log = executor.log
        self.middleware = executor.middleware
        self._has_middleware = bool(executor.middleware)
        #: set by the runtime: reports an abandoned run's outcome and frees its slot
        self.on_abandoned: Callable[[AsyncRun, Outcome], None] | None = None

    async def execute(self, run: AsyncRun) -> Outcome | Reroute | None:
        """Run the job; None when it was abandoned (its outcome was reported then)."""
        fetched = run.job
        started = time.time()
        try:
            job = payload.decode(fetched.raw)
        except MalformedPayloadError as malformed:
            logger.warning("dead on arrival from queue %s: %s", fetched.queue, malformed)
            dead = failure.wrap_malformed(fetched.raw, fetched.queue, malformed, started)
            return Failure(fetched, "dead", started, dead)
        if _synchronous(job):
            return REROUTE
        context = JobContext(
            jid=str(job.get("jid", "")),
            job_class=payload.display_class(job),
            queue=fetched.queue,
            enqueued_at=payload.timestamp(job.get("enqueued_at")),
            started_at=started,
            periodic=_periodic_name(job),
            on_loop=True,
        )
        run.context = context
        self.log.start(context)
        if self._has_middleware:
            self.middleware.job_started(context)
        marked = (
            self.executor.marks is not None and bool(fetched.field) and bool(job.get("recoveries"))
        )
        if marked:
            await asyncio.to_thread(self.executor._mark, fetched.field, started=True)
        clock = time.perf_counter()
        performed = await self._perform(run, job)
        if run.abandoned:
            return None
        if marked:
            await asyncio.to_thread(self.executor._mark, fetched.field, started=False)
        duration = time.perf_counter() - clock
        error = performed.error
        if error is None:
            outcome: Outcome = Ack(fetched, context.jid, _unique_digest(job), marked)
            label = SUCCEEDED
        else:
            outcome, label = self.executor.failed(
                fetched, job, performed.job_class, performed.instance, error
            )
        self.log.finish(context, label, duration, error, _next_attempt(outcome))
        if self._has_middleware:
            self.middleware.job_finished(context, label, duration, error)
        return outcome

    async def _perform(self, run: AsyncRun, job: payload.JobDict) -> _Performed:
        """Resolve the class and arguments and await perform, cancelled at its timeout."""
        performed = _Performed()
        clock = time.perf_counter()
        try:
            performed.job_class = job_class = resolution.resolve(job)
            args = resolution.perform_args(job)
            job_class.check_arity(len(args))
            performed.instance = instance = job_class.from_payload(job, args)
            seconds = _seconds(job_class.timeout)
            if seconds is not None:
                self._arm(run, seconds, job, job_class, instance)
            await async_perform.run_perform(instance)
        except asyncio.CancelledError as cancelled:
            if run.shutdown or not run.timed_out:
                raise
            performed.error = cancelled
        except _JOB_ERRORS as raised:
            performed.error = raised
        finally:
            for timer in run.timers:
                timer.cancel()
        if run.timed_out and not run.abandoned:
            # Whatever the job did with the cancellation (re-raised it, raised another
            # error, or even returned), it ran past its timeout: a timeout failure.
            task = run.task
            if task is not None:
                # Handled: later awaits of this task (the unmarking) must not see it.
                while task.cancelling():
                    task.uncancel()
            elapsed = time.perf_counter() - clock
            stopped = JobTimeoutError(
                f"job exceeded its timeout of {run.timeout:g}s and was cancelled after "
                f"{elapsed:.2f}s"
            )
            caught = performed.error
            performed.error = stopped.with_traceback(caught.__traceback__ if caught else None)
        return performed

    def _arm(
        self,
        run: AsyncRun,
        seconds: float,
        job: payload.JobDict,
        job_class: type[Job],
        instance: Job,
    ) -> None:
        """Cancel the task at the deadline; abandon it `grace` seconds later."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        run.timeout = seconds

        def cancel() -> None:
            run.timed_out = True
            if run.task is not None:
                run.task.cancel()

        def abandon() -> None:
            if run.task is None or run.task.done():
                return
            run.abandoned = True
            self._report_abandoned(run, job, job_class, instance)

        run.timers = (
            loop.call_at(deadline, cancel),
            loop.call_at(deadline + self.grace, abandon),
        )

    def _report_abandoned(
        self, run: AsyncRun, job: payload.JobDict, job_class: type[Job], instance: Job
    ) -> None:
        context = run.context
        assert context is not None
        duration = time.time() - context.started_at
        error = JobTimeoutError(
            f"job exceeded its timeout of {run.timeout:g}s and kept running after its "
            f"cancellation; abandoned after {duration:.2f}s"
        )
        outcome, label = self.executor.failed(run.job, job, job_class, instance, error)
        logger.warning("abandoned %s: it swallowed the cancellation of its timeout", run.describe())
        self.log.finish(context, label, duration, error, _next_attempt(outcome))
        if self._has_middleware:
            self.middleware.job_finished(context, label, duration, error)
        if self.on_abandoned is not None:
            self.on_abandoned(run, outcome)


class _Performed:
    """What happened inside perform."""

    __slots__ = ("error", "instance", "job_class")

    def __init__(self) -> None:
        self.job_class: type[Job] | None = None
        self.instance: Job | None = None
        self.error: BaseException | None = None


def _synchronous(job: payload.JobDict) -> bool:
    """Whether the payload names a known class whose perform is a plain function."""
    try:
        job_class = resolution.resolve(job)
    except (UnknownJobError, KeyError, TypeError):
        return False  # reported when it is performed, as a thread reports it
    return not async_perform.is_async(job_class)


def internal_error(job: Fetched) -> Failure:
    """The outcome of a job whose run hit a bug in sidequest itself: keep it visible."""
    error = RuntimeError("internal error in the worker; see its log")
    dead = failure.wrap_malformed(job.raw, job.queue, error, time.time())
    return Failure(job, "dead", time.time(), dead)


__all__ = ["REROUTE", "AsyncExecutor", "AsyncRun", "internal_error"]
