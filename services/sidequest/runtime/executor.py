"""Runs one fetched job and says how it ended.

Tasks, for each job a processor hands over:
1. decode the payload; a queue entry that is not a job goes to the dead set, wrapped
2. resolve the class and the arguments; arguments that do not fit `perform` go to the
   dead set at once (retrying cannot fix them), while a class this worker does not know
   follows the payload's retry policy, as in Sidekiq: during a rolling deploy an old
   worker meets classes only the new release defines, and a later attempt finds a
   worker that knows them (issue 22)
3. run perform inside the job's callbacks, guarded by the watchdog when it has a timeout
4. on failure apply retry_on / discard_on / the default policy (`sidequest.job.rescue`)
5. log the start and the finish (a retry's with when its next attempt runs), and tell
   the middleware
The result is an Outcome for the fetcher to write to Redis; nothing here does I/O
besides logging and the middleware.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Protocol

import redis

from sidequest import payload
from sidequest.config import Settings
from sidequest.errors import (
    ArgumentMismatchError,
    JobCancelled,
    JobTimeoutError,
    MalformedPayloadError,
    UnknownJobError,
)
from sidequest.flow import expiry
from sidequest.job import rescue
from sidequest.job.base import Job, failure_state
from sidequest.middleware import (
    CANCELLED,
    DEAD,
    DISCARDED,
    RETRIED,
    SUCCEEDED,
    JobContext,
    MiddlewareChain,
)
from sidequest.runtime import cancelling, failure, flow_counts, links, resolution
from sidequest.runtime.cancelling import Cancellations, RunningJob
from sidequest.runtime.fetched import Fetched
from sidequest.runtime.joblog import JobLog
from sidequest.runtime.limits import Left, LimitFailed, LimitGate
from sidequest.runtime.outcome import Ack, Failure, Outcome
from sidequest.runtime.watchdog import Guard, Watchdog

logger = logging.getLogger("sidequest")

# Errors a job's own code may raise that still must not kill the processor thread.
_JOB_ERRORS = (Exception, SystemExit, KeyboardInterrupt)


class Counts(Protocol):
    """Where dropped and cancelled jobs are counted (flow_counts.FlowCounts)."""

    def add(self, name: str, count: int = 1) -> None: ...


class RunningMarks(Protocol):
    """Records in Redis that a job recovered before is running (see recovery.py)."""

    def mark_started(self, field: str) -> None: ...

    def unmark_started(self, field: str) -> None: ...


@dataclass(slots=True)
class TimedRun:
    """A job running under the watchdog: what reporting it needs if its thread is abandoned."""

    fetched: Fetched
    job: payload.JobDict
    job_class: type[Job]
    instance: Job
    context: JobContext
    seconds: float


def decode_or_bury(fetched: Fetched, started: float) -> payload.JobDict | Failure:
    """The fetched job's payload, or the Failure that buries a malformed one."""
    try:
        return payload.decode(fetched.raw)
    except MalformedPayloadError as malformed:
        logger.warning("dead on arrival from queue %s: %s", fetched.queue, malformed)
        dead = failure.wrap_malformed(fetched.raw, fetched.queue, malformed, started)
        return Failure(fetched, "dead", started, dead)


def job_context(
    fetched: Fetched, job: payload.JobDict, started: float, *, on_loop: bool = False
) -> JobContext:
    """What logging and middleware see of a job about to start."""
    return JobContext(
        jid=str(job.get("jid", "")),
        job_class=payload.display_class(job),
        queue=fetched.queue,
        enqueued_at=payload.timestamp(job.get("enqueued_at")),
        started_at=started,
        periodic=_periodic_name(job),
        on_loop=on_loop,
        payload=job,
    )


class Executor:
    def __init__(
        self,
        settings: Settings,
        middleware: MiddlewareChain,
        watchdog: Watchdog[TimedRun],
        marks: RunningMarks | None = None,
        cancellations: Cancellations | None = None,
        counts: Counts | None = None,
        limits: LimitGate | None = None,
    ):
        self.settings = settings
        self.cancellations = cancellations
        self.counts = counts
        self.middleware = middleware
        self._has_middleware = bool(middleware)
        self.watchdog = watchdog
        self.marks = marks
        self.limits = limits
        self.log = JobLog()

    def execute(self, fetched: Fetched) -> Outcome | Left | None:
        """Run the job; None means the watchdog abandoned it and already reported it,
        Left that its limits refused it and it left this process (runtime/limits.py)."""
        started = time.time()
        job = decode_or_bury(fetched, started)
        if isinstance(job, Failure):
            return job

        instead = self._instead_of_running(fetched, job, started)
        if instead is not None:
            return instead

        context = job_context(fetched, job, started)
        self.log.start(context)
        if self._has_middleware:
            self.middleware.job_started(context)
        # Only a job in the in-flight hash has a field to mark: exchange.lua marks a landed
        # job when it adopts it, and recovery counts the landed ones as running anyway.
        marked = self.marks is not None and bool(fetched.field) and bool(job.get("recoveries"))
        if marked:
            self._mark(fetched.field, started=True)
        clock = time.perf_counter()
        run = self._perform(fetched, job, context)
        if run.abandoned:
            return None
        if marked:
            self._mark(fetched.field, started=False)
        duration = time.perf_counter() - clock
        error = run.error
        if error is None:
            link = links.link_of(job)
            outcome: Outcome = Ack(fetched, context.jid, _unique_digest(job), marked, link)
            label = SUCCEEDED
        elif isinstance(error, JobCancelled):
            return self._cancelled(fetched, job, context, duration, error, marked)
        else:
            outcome, label = self.failed(fetched, job, run.job_class, run.instance, error)
        self.log.finish(context, label, duration, error, _next_attempt(outcome))
        if self._has_middleware:
            self.middleware.job_finished(context, label, duration, error)
        return outcome

    def _instead_of_running(
        self, fetched: Fetched, job: payload.JobDict, now: float
    ) -> Outcome | Left | None:
        """What becomes of a job that must not start: dropped (cancelled, expired) or
        refused by its limits; None when it may start."""
        drop = self._drop_reason(job, now)
        if drop is not None:
            if self.limits is not None:
                self.limits.withdraw([fetched])  # slots the fetcher took with its batch
            return self._dropped(fetched, job, drop)
        if self.limits is not None:
            return self._admit(self.limits, fetched, job)
        return None

    def _admit(
        self, limits: LimitGate, fetched: Fetched, job: payload.JobDict
    ) -> Failure | Left | None:
        """None when the job's limits let it start; Left when it left this process
        (parked or throttled); a Failure when a limit's key function failed."""
        try:
            return limits.admit(fetched, job)
        except LimitFailed as refused:
            return self.failed(fetched, job, refused.job_class, None, refused)[0]

    def _perform(self, fetched: Fetched, job: payload.JobDict, context: JobContext) -> _Run:
        """Resolve the class and arguments and run perform, under the watchdog if timed."""
        run = _Run()
        guard: Guard[TimedRun] | None = None
        running: RunningJob | None = None
        began = 0.0
        try:
            run.job_class = job_class = resolution.resolve(job)
            args = resolution.perform_args(job)
            job_class.check_arity(len(args))
            run.instance = instance = job_class.from_payload(job, args)
            cancellations = self.cancellations
            if cancellations is not None:
                running = RunningJob(threading.get_ident(), fetched, job, instance, context)
                cancellations.enter(running)
            seconds = _seconds(job_class.timeout)
            try:
                if seconds is not None:
                    timed = TimedRun(fetched, job, job_class, instance, context, seconds)
                    began = time.monotonic()
                    guard = self.watchdog.begin(seconds, timed)
                    if running is not None:
                        running.guard = guard
                instance.run_perform()
            finally:
                if guard is not None:
                    self.watchdog.end(guard)
                if running is not None and cancellations is not None:
                    run.abandoned = cancellations.leave(running)
        except _JOB_ERRORS as raised:
            run.error = raised
        self._left_perform(fetched, run, running, guard)
        if guard is not None:
            run.abandoned = run.abandoned or guard.abandoned
            if guard.fired and isinstance(run.error, JobTimeoutError) and not run.error.args:
                run.error = _stopped(run.error, guard.context.seconds, time.monotonic() - began)
        return run

    def _left_perform(
        self,
        fetched: Fetched,
        run: _Run,
        running: RunningJob | None,
        guard: Guard[TimedRun] | None,
    ) -> None:
        """Bookkeeping as perform returns: a cancel's abandonment, the limits' slots."""
        if running is not None and running.abandoned:
            # A cancel abandoned it and reported it; the JobCancelled raised into this
            # thread may still be pending (perform returned first): clear it.
            run.abandoned = True
            cancelling.clear_pending_exception()
        if (
            self.limits is not None
            and not run.abandoned
            and not (guard is not None and guard.abandoned)
        ):
            # Before the outcome is written: a parked job of the key can start now.
            self.limits.release(fetched)

    def _drop_reason(self, job: payload.JobDict, now: float) -> str | None:
        """Why a job about to start must not run: cancelled, expired, or None to run it."""
        cancellations = self.cancellations
        if cancellations is not None and cancellations.is_cancelled(str(job.get("jid", ""))):
            return flow_counts.CANCELLED
        if expiry.FIELD in job and expiry.expired(job, now):
            return flow_counts.EXPIRED
        return None

    def _dropped(self, fetched: Fetched, job: payload.JobDict, reason: str) -> Ack:
        """A job that is not run: acknowledged (gone from Redis, its lock freed), counted."""
        jid = str(job.get("jid", ""))
        logger.info(
            "class=%s jid=%s queue=%s dropped: %s",
            payload.display_class(job),
            jid,
            fetched.queue,
            reason,
        )
        if self.counts is not None:
            self.counts.add(reason)
        return Ack(fetched, jid, _unique_digest(job))

    def _cancelled(
        self,
        fetched: Fetched,
        job: payload.JobDict,
        context: JobContext,
        duration: float,
        error: BaseException,
        marked: bool = False,
    ) -> Ack:
        """A running job that stopped for a cancel: dropped (not retried, not dead), counted."""
        self.log.finish(context, CANCELLED, duration, error)
        if self._has_middleware:
            self.middleware.job_finished(context, CANCELLED, duration, None)
        if self.counts is not None:
            self.counts.add(flow_counts.CANCELLED)
        return Ack(fetched, context.jid, _unique_digest(job), marked)

    def cancelled_outcome(self, run: RunningJob) -> Ack:
        """The outcome of a cancelled job abandoned after the grace (its thread is stuck)."""
        duration = time.time() - run.context.started_at
        error = JobCancelled(
            f"cancelled; the job did not stop within timeout_grace, its thread was "
            f"abandoned after {duration:.2f}s"
        )
        marked = bool(run.fetched.field) and bool(run.job.get("recoveries"))
        return self._cancelled(run.fetched, run.job, run.context, duration, error, marked)

    def _mark(self, field: str, *, started: bool) -> None:
        assert self.marks is not None
        try:
            if started:
                self.marks.mark_started(field)
            else:
                self.marks.unmark_started(field)
        except redis.RedisError as error:
            logger.warning("could not record the run of a recovered job: %s", error)

    def failed(
        self,
        fetched: Fetched,
        job: payload.JobDict,
        job_class: type[Job] | None,
        instance: Job | None,
        error: BaseException,
    ) -> tuple[Failure, str]:
        """Decide and build the Failure for a job whose execution raised `error`."""
        now = time.time()
        digest = _unique_digest(job)
        jid = str(job.get("jid", ""))
        timeout = _seconds(job_class.timeout) if job_class is not None else None
        message = failure.error_message(error, timeout)
        decision = self._decide(job, job_class, error, now)
        if decision is None:
            failure.record_error(job, error, now, message=message)
            dead = payload.encode(job)
            return Failure(fetched, "dead", now, dead, jid, digest, links.bid_of(job)), DEAD
        if isinstance(decision, rescue.Discard):
            name = job_class.job_name if job_class is not None else payload.display_class(job)
            logger.info("discarding %s %s: %s", name, jid, decision.reason)
            if decision.callback is not None and instance is not None:
                _call_safely(decision.callback, instance, error)
            discarded = Failure(fetched, "discard", now, "", jid, digest, links.bid_of(job))
            return discarded, DISCARDED
        # Without a class, only the payload's `backtrace` asks for one: the worker's own
        # frames would say nothing about the job.
        default = job_class.backtrace if job_class is not None else False
        backtrace = failure.backtrace_option(job, default)
        failure.record_error(job, error, now, backtrace=backtrace, message=message)
        if isinstance(decision, rescue.Retry):
            failure.apply_retry(job, decision)
            score = now + decision.delay
            retried = payload.encode(job)
            return Failure(
                fetched, "retry", score, retried, jid, digest, links.bid_of(job)
            ), RETRIED
        failure.count_rule_execution(job, decision.rule_key, decision.executions)
        buried = payload.encode(job)
        return Failure(fetched, "dead", now, buried, jid, digest, links.bid_of(job)), DEAD

    def _decide(
        self,
        job: payload.JobDict,
        job_class: type[Job] | None,
        error: BaseException,
        now: float,
    ) -> rescue.Decision | None:
        """The job's fate by its rules; None for a job to bury at once."""
        retry_option = job.get("retry", True)
        if not isinstance(retry_option, bool | int):
            retry_option = True
        state = failure_state(job)
        max_retries = self.settings.max_retries
        if isinstance(error, UnknownJobError):
            # Sidekiq's policy for a class it cannot find: the payload's `retry`, with
            # the default backoff (no class, no retry_on rules). A later attempt may
            # meet a worker that loads the module.
            return rescue.default_policy(state, retry_option, max_retries, now)
        if job_class is None or isinstance(error, ArgumentMismatchError):
            return None  # retrying cannot change the arguments
        return rescue.decide(
            job_class, error, state, retry_option, max_retries=max_retries, now=now
        )

    def abandoned_outcome(self, run: TimedRun) -> Failure:
        """The Failure for a job the watchdog gave up on (its thread is still stuck)."""
        if self.limits is not None:
            # Counted as failed and retried: its slots go to the jobs waiting for them.
            self.limits.release(run.fetched)
        context = run.context
        duration = time.time() - context.started_at
        error = JobTimeoutError(
            f"job exceeded its timeout of {run.seconds:g}s and did not stop; "
            f"its thread was abandoned after {duration:.2f}s"
        )
        outcome, label = self.failed(run.fetched, run.job, run.job_class, run.instance, error)
        self.log.finish(context, label, duration, error, _next_attempt(outcome))
        if self._has_middleware:
            self.middleware.job_finished(context, label, duration, error)
        return outcome


class _Run:
    """What happened inside perform."""

    __slots__ = ("abandoned", "error", "instance", "job_class")

    def __init__(self) -> None:
        self.job_class: type[Job] | None = None
        self.instance: Job | None = None
        self.error: BaseException | None = None
        self.abandoned = False


def _stopped(raised: JobTimeoutError, limit: float, elapsed: float) -> JobTimeoutError:
    """The watchdog raises the bare class into the thread (PyThreadState_SetAsyncExc
    takes no message), which logged `error=JobTimeoutError: ` (issue 22): say the limit
    and how long the job ran, keeping the traceback of where it was stopped."""
    error = JobTimeoutError(
        f"job exceeded its timeout of {limit:g}s and was stopped after {elapsed:.2f}s"
    )
    return error.with_traceback(raised.__traceback__)


def _next_attempt(outcome: Outcome) -> float | None:
    """When a retried job runs again (epoch seconds); None for any other outcome."""
    if isinstance(outcome, Failure) and outcome.mode == "retry":
        return outcome.score
    return None


def _seconds(value: float | timedelta | None) -> float | None:
    if value is None:
        return None
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


def _periodic_name(job: payload.JobDict) -> str | None:
    name = job.get("periodic")
    return name if isinstance(name, str) and name else None


def _unique_digest(job: payload.JobDict) -> str | None:
    digest = job.get("unique_digest")
    return digest if isinstance(digest, str) and digest else None


def _call_safely(callback: Any, instance: Job, error: BaseException) -> None:
    try:
        callback(instance, error)
    except Exception:
        logger.exception("callback %r for %s failed", callback, instance)
