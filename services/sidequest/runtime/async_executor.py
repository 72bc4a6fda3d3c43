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
4. the start hooks of executor.py apply as they are (Executor._drop_reason, _dropped,
   _admit): a cancelled or expired job is dropped before it starts and counted; a job
   whose limits refuse it leaves this process (Left, as on a thread). Admitting and
   releasing a class with limits may wait on Redis: that runs in a thread of the
   loop's executor; for other classes both are a dictionary lookup, done on the loop
5. a cancel of a running job (cancelling.py) sets its `cancelled` and cancels its
   task: `asyncio.CancelledError` at its `await` (or JobCancelled from
   `check_cancelled()`), and the job ends as cancelled (acknowledged, counted, not
   retried, not dead). A job that swallows the cancellation is abandoned after
   `timeout_grace`, its cancelled outcome reported then, as a thread's is
6. a success of a batch member or a chain step carries its Link (links.link_of), so
   the batch's bookkeeping and callbacks, and the chain's next step, are written with
   its acknowledgement as for a thread's job
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from sidequest import payload
from sidequest.errors import JobCancelled, JobTimeoutError, UnknownJobError
from sidequest.job import async_perform
from sidequest.job.base import Job
from sidequest.limits import limits_of
from sidequest.middleware import SUCCEEDED, JobContext
from sidequest.runtime import failure, links, resolution
from sidequest.runtime.cancelling import RunningJob
from sidequest.runtime.executor import (
    _JOB_ERRORS,
    Executor,
    _next_attempt,
    _seconds,
    _unique_digest,
    decode_or_bury,
    job_context,
)
from sidequest.runtime.fetched import Fetched
from sidequest.runtime.limits import Left
from sidequest.runtime.outcome import Ack, Failure, Outcome

logger = logging.getLogger("sidequest")


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
    #: stopped by a cancel (cancelling.py): ends as cancelled, not retried
    cancelled: bool = False
    #: perform (with its callbacks) is running: only then may a cancel cancel the task
    performing: bool = False
    #: what the Cancellations registry knows of it
    running: RunningJob | None = None
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

    async def execute(self, run: AsyncRun) -> Outcome | Reroute | Left | None:
        """Run the job; None when it was abandoned (its outcome was reported then), Left
        when its limits refused it and it left this process (runtime/limits.py)."""
        fetched = run.job
        started = time.time()
        job = decode_or_bury(fetched, started)
        if isinstance(job, Failure):
            return job
        if _synchronous(job):
            return REROUTE
        instead = await self._instead_of_running(fetched, job, started)
        if instead is not None:
            return instead
        context = job_context(fetched, job, started, on_loop=True)
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
        await self._left_perform(fetched, job, marked)
        duration = time.perf_counter() - clock
        error = performed.error
        if error is None:
            link = links.link_of(job)
            outcome: Outcome = Ack(fetched, context.jid, _unique_digest(job), marked, link)
            label = SUCCEEDED
        elif isinstance(error, JobCancelled):
            return self.executor._cancelled(fetched, job, context, duration, error, marked)
        else:
            outcome, label = self.executor.failed(
                fetched, job, performed.job_class, performed.instance, error
            )
        self.log.finish(context, label, duration, error, _next_attempt(outcome))
        if self._has_middleware:
            self.middleware.job_finished(context, label, duration, error)
        return outcome

    async def _left_perform(self, fetched: Fetched, job: payload.JobDict, marked: bool) -> None:
        """As perform returned: give back the job's slots (before the outcome is written,
        so that a parked job of the key can start now), and unmark its run."""
        limits = self.executor.limits
        if limits is not None:
            if _limited(job):
                await asyncio.to_thread(limits.release, fetched)
            else:
                limits.release(fetched)
        if marked:
            await asyncio.to_thread(self.executor._mark, fetched.field, started=False)

    async def _instead_of_running(
        self, fetched: Fetched, job: payload.JobDict, now: float
    ) -> Outcome | Left | None:
        """Executor._instead_of_running for the loop: the job is dropped (cancelled,
        expired), refused by its limits, or None: it may start."""
        executor = self.executor
        limits = executor.limits
        drop = executor._drop_reason(job, now)
        if drop is not None:
            if limits is not None:
                limits.withdraw([fetched])  # slots the fetcher took with its batch
            return executor._dropped(fetched, job, drop)
        if limits is None:
            return None
        if _limited(job):
            return await asyncio.to_thread(executor._admit, limits, fetched, job)
        return executor._admit(limits, fetched, job)

    async def _perform(self, run: AsyncRun, job: payload.JobDict) -> _Performed:
        """Resolve the class and arguments and await perform, cancelled at its timeout."""
        performed = _Performed()
        clock = time.perf_counter()
        cancellations = self.executor.cancellations
        try:
            performed.job_class = job_class = resolution.resolve(job)
            args = resolution.perform_args(job)
            job_class.check_arity(len(args))
            performed.instance = instance = job_class.from_payload(job, args)
            seconds = _seconds(job_class.timeout)
            if seconds is not None:
                self._arm(run, seconds, job, job_class, instance)
            run.performing = True
            self._enter(run, job, instance)
            await async_perform.run_perform(instance)
        except asyncio.CancelledError as cancelled:
            if run.shutdown or not (run.timed_out or run.cancelled):
                raise
            performed.error = cancelled
        except _JOB_ERRORS as raised:
            performed.error = raised
        finally:
            run.performing = False
            if cancellations is not None and run.running is not None:
                cancellations.leave(run.running)
            for timer in run.timers:
                timer.cancel()
        self._stopped(run, performed, time.perf_counter() - clock)
        return performed

    def _enter(self, run: AsyncRun, job: payload.JobDict, instance: Job) -> None:
        """Make the run known to the Cancellations registry, under the run's own id."""
        cancellations = self.executor.cancellations
        if cancellations is None or run.context is None:
            return
        loop = asyncio.get_running_loop()

        def on_cancel() -> None:  # from the control listener's thread, or the loop's
            with contextlib.suppress(RuntimeError):  # a closed loop has nothing to cancel
                loop.call_soon_threadsafe(self._cancel, run)

        run.running = RunningJob(
            run.serial, run.job, job, instance, run.context, on_cancel=on_cancel
        )
        cancellations.enter(run.running)

    @staticmethod
    def _stopped(run: AsyncRun, performed: _Performed, elapsed: float) -> None:
        """The error of a run its cancel or its timeout stopped, whatever the job did with
        the cancellation (re-raised it, raised another error, or even returned)."""
        if run.abandoned:
            return
        if run.cancelled and not run.timed_out:
            # Handled: later awaits of this task (the unmarking) must not see it.
            _uncancel(run.task)
            if not isinstance(performed.error, JobCancelled):
                cancelled_error = JobCancelled(f"{run.describe()} was cancelled")
                caught = performed.error
                performed.error = cancelled_error.with_traceback(
                    caught.__traceback__ if caught else None
                )
        elif run.timed_out:
            _uncancel(run.task)
            stopped = JobTimeoutError(
                f"job exceeded its timeout of {run.timeout:g}s and was cancelled after "
                f"{elapsed:.2f}s"
            )
            caught = performed.error
            performed.error = stopped.with_traceback(caught.__traceback__ if caught else None)

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
            if run.abandoned or run.task is None or run.task.done():
                return  # a cancel may have abandoned it first
            run.abandoned = True
            self._report_abandoned(run, job, job_class, instance)

        run.timers = (
            loop.call_at(deadline, cancel),
            loop.call_at(deadline + self.grace, abandon),
        )

    def _cancel(self, run: AsyncRun) -> None:
        """A cancel reached the running job (on the loop): cancel its task; abandon it
        `grace` seconds later if it is still running."""
        task = run.task
        if not run.performing or run.cancelled or run.abandoned or task is None or task.done():
            return
        run.cancelled = True
        task.cancel()
        loop = asyncio.get_running_loop()
        run.timers = (*run.timers, loop.call_later(self.grace, self._abandon_cancelled, run))

    def _abandon_cancelled(self, run: AsyncRun) -> None:
        """A cancelled job still running after the grace: report it cancelled, free its slot."""
        task = run.task
        if run.abandoned or run.running is None or task is None or task.done():
            return
        run.abandoned = True
        logger.warning("abandoned %s: it swallowed the cancellation of a cancel", run.describe())
        outcome = self.executor.cancelled_outcome(run.running)
        self._release_soon(run.job, run.running.job)
        if self.on_abandoned is not None:
            self.on_abandoned(run, outcome)

    def _release_soon(self, fetched: Fetched, job: payload.JobDict) -> None:
        """Give back the slots of an abandoned job (on the loop, without waiting on it)."""
        limits = self.executor.limits
        if limits is None:
            return
        if _limited(job):
            asyncio.get_running_loop().run_in_executor(None, limits.release, fetched)
        else:
            limits.release(fetched)

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
        # Counted as failed and retried: its slots go to the jobs waiting for them.
        self._release_soon(run.job, job)
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


def _limited(job: payload.JobDict) -> bool:
    """Whether the job's class declares limits (admitting it may wait on Redis)."""
    try:
        return bool(limits_of(resolution.resolve(job)))
    except (UnknownJobError, KeyError, TypeError, ValueError):
        return False


def _uncancel(task: asyncio.Task[None] | None) -> None:
    if task is not None:
        while task.cancelling():
            task.uncancel()


def internal_error(job: Fetched) -> Failure:
    """The outcome of a job whose run hit a bug in sidequest itself: keep it visible."""
    error = RuntimeError("internal error in the worker; see its log")
    dead = failure.wrap_malformed(job.raw, job.queue, error, time.time())
    bid, jid = links.member_of_raw(job.raw)
    return Failure(job, "dead", time.time(), dead, jid, None, bid)


__all__ = ["REROUTE", "AsyncExecutor", "AsyncRun", "internal_error"]
