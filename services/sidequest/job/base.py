"""The Job class: ActiveJob's API over Sidekiq's payloads.

    class ProcessReportJob(Job):
        queue = "default"
        timeout = 300
        unique_for = timedelta(hours=1)

        def perform(self, report_id: int) -> None: ...

    ProcessReportJob.perform_later(42)
    ProcessReportJob.perform_later(42, format="pdf")      # keywords, as ActiveJob stores them
    ProcessReportJob.set(wait=timedelta(minutes=5), queue="critical").perform_later(42)

This module holds the class: its options, the state a running job sees, its callbacks
and how it is performed. Enqueuing (preparing the payload and handing it to the current
adapter) is `sidequest.job.enqueuing`; nothing here or there talks to Redis, so jobs
work with the test adapters and no server.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any, ClassVar, Self

from sidequest import payload
from sidequest import progress as job_progress
from sidequest.errors import JobCancelled
from sidequest.job import (
    async_enqueue,
    async_perform,
    callbacks,
    enqueuing,
    membership,
    registry,
    rescue,
    signature,
)
from sidequest.job.enqueuing import ConfiguredJob
from sidequest.job.options import NO_OPTIONS, Delay, EnqueueOptions, When
from sidequest.payload import JobDict

if TYPE_CHECKING:
    from sidequest.batches.chain import Signature

__all__ = ["ConfiguredJob", "Delay", "EnqueueOptions", "Job", "When", "failure_state"]

logger = logging.getLogger("sidequest")


class Job:
    """Base class of every job. Subclasses define `perform` and may set the options below."""

    #: queue the job is pushed to
    queue: ClassVar[str] = "default"
    #: Sidekiq's retry option: True (25 retries), a number of retries, 0 (dead at once) or False
    retry: ClassVar[bool | int] = True
    #: Sidekiq 7's retry_for: retry for this long (seconds or timedelta) after the first
    #: failure instead of counting retries; None counts retries (`retry`)
    retry_for: ClassVar[float | timedelta | None] = None
    #: queue that retries run on (None: the job's queue)
    retry_queue: ClassVar[str | None] = None
    #: seconds (or timedelta) after which a running job is stopped and counted as failed
    timeout: ClassVar[float | timedelta | None] = None
    #: while a job with the same class, queue and arguments is enqueued or running, refuse others
    unique_for: ClassVar[float | timedelta | None] = None
    #: backtrace lines saved with a failure (True: all, False: none)
    backtrace: ClassVar[bool | int] = 30
    #: whether an exhausted job goes to the dead set (False drops it)
    dead: ClassVar[bool] = True
    #: the name written to the payload's `class` (default: the class name)
    job_name: ClassVar[str] = "Job"
    #: a job not started this long (seconds or timedelta) after it was due is dropped
    #: by the worker, never run, and counted (`sidequest.flow.expiry`); None: never
    expires_in: ClassVar[float | timedelta | None] = None

    #: set by the worker when the running job is cancelled (`cancelled`)
    _cancelled: bool = False

    _perform_chain: ClassVar[callbacks.CallbackChain | None] = None
    _enqueue_chain: ClassVar[callbacks.CallbackChain | None] = None
    _shape: ClassVar[signature.Shape | None] = None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "job_name" not in cls.__dict__:
            cls.job_name = cls.__name__
        cls._perform_chain = None
        cls._enqueue_chain = None
        cls._shape = None
        registry.register(cls)

    # What one job is; __init__ and from_payload both set all of it through _assign.
    #: positional arguments of perform
    args: list[Any]
    #: keyword arguments of perform (stored as ActiveJob stores them: `sidequest.keywords`)
    kwargs: dict[str, Any]
    jid: str
    queue_name: str
    payload: JobDict
    #: epoch seconds the pushed job is due at; None when it was pushed to run at once
    scheduled_at: float | None
    successfully_enqueued: bool
    #: the jid holding the unique lock that refused this enqueue
    duplicate_of: str | None
    #: the last `progress(...)` this instance reported, if any
    last_progress: job_progress.Update | None = None

    # Positional-only, like every method below that takes perform's arguments, so that
    # perform may have a keyword named `cls`, `delay` or `when`.
    def __init__(self, /, *args: Any, **kwargs: Any) -> None:
        self._assign(list(args), kwargs, payload.new_jid(), type(self).queue)

    @classmethod
    def from_payload(cls, job_payload: JobDict, args: list[Any]) -> Self:
        """The instance a worker performs, carrying the payload's identity.

        `args` are the stored arguments (the last may be a keyword hash); they are split
        and checked against perform here (ArgumentMismatchError). Built without calling
        `__init__`, which would draw a jid only to replace it.
        """
        positional, named = signature.call(cls.perform_shape(), cls.job_name, job_payload, args)
        job = cls.__new__(cls)
        job._assign(
            positional,
            named,
            str(job_payload.get("jid", "")),
            str(job_payload.get("queue", cls.queue)),
            job_payload,
            enqueued=True,
        )
        return job

    def _assign(
        self,
        args: list[Any],
        kwargs: dict[str, Any],
        jid: str,
        queue_name: str,
        job_payload: JobDict | None = None,
        *,
        enqueued: bool = False,
    ) -> None:
        self.args = args
        self.kwargs = kwargs
        self.jid = jid
        self.queue_name = queue_name
        self.payload = {} if job_payload is None else job_payload
        self.scheduled_at = None
        self.successfully_enqueued = enqueued
        self.duplicate_of = None

    def perform(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError(f"{type(self).__name__} must define perform()")

    def __repr__(self) -> str:
        named = f" kwargs={self.kwargs!r}" if self.kwargs else ""
        return (
            f"<{type(self).__name__} jid={self.jid} queue={self.queue_name} "
            f"args={self.args!r}{named}>"
        )

    # -- state seen by callbacks and perform when run by a worker -------------------------

    @property
    def retry_count(self) -> int | None:
        """Sidekiq's retry_count: None on the first run, 0 on the first retry, ..."""
        value = self.payload.get("retry_count")
        return value if isinstance(value, int) else None

    @property
    def executions(self) -> int:
        """How many times this job has started, this run included (ActiveJob's counter)."""
        count = self.retry_count
        return 1 if count is None else count + 2

    @property
    def cancelled(self) -> bool:
        """True once someone cancelled this running job (`sidequest cancel JID`, the
        dashboard, `sidequest.api.cancel()`). Long jobs look at it between steps; the
        worker abandons a cancelled job that has not stopped after `timeout_grace`."""
        return self._cancelled

    def check_cancelled(self) -> None:
        """Raise JobCancelled if this job was cancelled: the job ends, is not retried,
        does not go to the dead set, and counts as cancelled."""
        if self._cancelled:
            raise JobCancelled(f"{type(self).__name__} {self.jid} was cancelled")

    @property
    def periodic_at(self) -> int | None:
        """The tick (whole epoch seconds) a periodic job was enqueued for, None otherwise.

        It names the period the run is for, whenever the job happens to start: a nightly
        report retried at 04:10, or a missed tick caught up later, still reads 02:30. A
        run outside the schedule (`sidequest periodic run`) carries the time it was asked
        for. `datetime.fromtimestamp(self.periodic_at, ZoneInfo(zone))` is the wall time.
        """
        value = self.payload.get("periodic_at")
        return value if isinstance(value, int) and not isinstance(value, bool) else None

    @property
    def batch(self) -> Any:
        """The sidequest.batches.Batch this job is a member of (payload `bid`), or None.

        `with self.batch:` inside perform adds jobs to it, and a Batch created inside
        that block becomes its child.
        """
        bid = self.payload.get("bid")
        if not isinstance(bid, str) or not bid:
            return None
        return membership.open_batch(bid)

    def progress(self, done: float, total: float | None = None, message: str = "") -> None:
        """Report progress from `perform`: `done` of `total` (None: unknown), a message.

        Throttled to a few writes a second (calls in between only keep their values);
        read with `sidequest.api.progress(jid)` while the job runs and for an hour after
        it ended; shown on the dashboard's Busy page. Outside a worker it is only kept
        on the job, as `last_progress`.
        """
        self.last_progress = job_progress.report(self.jid, done, total, message)

    # -- enqueuing ------------------------------------------------------------------------

    @classmethod
    def s(cls, /, *args: Any, **kwargs: Any) -> Signature:
        """This job with its arguments, as a step of a `chain(...)`."""
        from sidequest.batches.chain import Signature  # noqa: PLC0415 (import cycle)

        return Signature(cls, args, kwargs)

    @classmethod
    def set(
        cls,
        *,
        queue: str | None = None,
        wait: Delay | None = None,
        wait_until: When | None = None,
        retry: bool | int | None = None,
        expires_in: Delay | None = None,
        debounce: Delay | None = None,
        debounce_key: str | None = None,
        debounce_max: Delay | None = None,
        outbox: Any = None,
    ) -> ConfiguredJob:
        """Options for one enqueue: `Job.set(queue="critical", wait=60).perform_later(1)`.

        `expires_in` overrides the class's. `debounce` (seconds or timedelta) with
        `debounce_key`: a later enqueue with the same key within the window replaces
        this one (its arguments win) and moves the start to the end of its window, at
        most `debounce_max` (default 10 windows) after the first enqueue of the burst.
        `outbox=session` (a SQLAlchemy session) writes the job into the session's outbox
        table, in its transaction, instead of pushing it now (`sidequest.outbox`).
        """
        return ConfiguredJob(
            cls,
            EnqueueOptions(
                queue,
                wait,
                wait_until,
                retry,
                expires_in=expires_in,
                debounce=debounce,
                debounce_key=debounce_key,
                debounce_max=debounce_max,
                outbox=outbox,
            ),
        )

    @classmethod
    def perform_later(cls, /, *args: Any, **kwargs: Any) -> Self:
        """Enqueue the job; returns it (see `jid`, `successfully_enqueued`)."""
        return enqueuing.enqueue(cls, args, NO_OPTIONS, kwargs)

    @classmethod
    def perform_in(cls, delay: Delay, /, *args: Any, **kwargs: Any) -> Self:
        """Run after `delay` seconds (or a timedelta)."""
        return enqueuing.enqueue(cls, args, EnqueueOptions(wait=delay), kwargs)

    @classmethod
    def perform_at(cls, when: When, /, *args: Any, **kwargs: Any) -> Self:
        """Run at `when`: a datetime or epoch seconds."""
        return enqueuing.enqueue(cls, args, EnqueueOptions(wait_until=when), kwargs)

    @classmethod
    def perform_now(cls, /, *args: Any, **kwargs: Any) -> Any:
        """Run inline, with callbacks and retry_on/discard_on as a worker would apply them."""
        return enqueuing.perform_now(cls, args, NO_OPTIONS, kwargs)

    @classmethod
    async def perform_later_async(cls, /, *args: Any, **kwargs: Any) -> Self:
        """`perform_later` for async code: the push does not block the event loop."""
        return await async_enqueue.enqueue_async(cls, args, NO_OPTIONS, kwargs)

    @classmethod
    async def perform_bulk_async(
        cls, args_list: Iterable[Sequence[Any] | Job], *, batch_size: int = 1000
    ) -> list[str]:
        """`perform_bulk` for async code: the pushes do not block the event loop."""
        return await async_enqueue.enqueue_bulk_async(cls, args_list, NO_OPTIONS, batch_size)

    @classmethod
    def is_async(cls) -> bool:
        """Whether perform is `async def`: a worker runs the job on its event loop."""
        return async_perform.is_async(cls)

    @classmethod
    def perform_bulk(
        cls, args_list: Iterable[Sequence[Any] | Job], *, batch_size: int = 1000
    ) -> list[str]:
        """Enqueue one job per argument list in pipelined batches; returns the jids.

        An item is a list of positional arguments, or a job built with its arguments,
        keywords included (`ReportJob(1, format="pdf")`, as ActiveJob's
        perform_all_later takes jobs), whose jid it keeps. Like Sidekiq's push_bulk (and
        ActiveJob's perform_all_later), enqueue callbacks do not run. Unique jobs fall
        back to one push each, so each takes its lock; a refused duplicate is left out
        of the returned jids.
        """
        return enqueuing.enqueue_bulk(cls, args_list, NO_OPTIONS, batch_size)

    @classmethod
    def check_call(cls, args: list[Any], kwargs: dict[str, Any]) -> None:
        """Raise ArgumentMismatchError unless perform(*args, **kwargs) would bind."""
        signature.check(cls.perform_shape(), cls.job_name, args, kwargs)

    @classmethod
    def check_arity(cls, count: int) -> None:
        """Raise ArgumentMismatchError unless `count` stored arguments could fit perform.

        The last of them may be a keyword hash, so a count alone cannot tell more; the
        exact checks are `check_call` at enqueue and `from_payload` at perform.
        """
        shape = cls.perform_shape()
        if not signature.could_fit(shape, count):
            raise signature.count_error(shape, cls.job_name, count)

    @classmethod
    def perform_shape(cls) -> signature.Shape:
        """What perform accepts (read from its signature once)."""
        shape = cls._shape
        if shape is None:
            shape = cls._shape = signature.Shape.of(cls.perform)
        return shape

    # -- performing -----------------------------------------------------------------------

    def run_perform(self) -> Any:
        """perform(*args) inside the perform callbacks; HALTED if a callback stopped it."""
        cls = type(self)
        if async_perform.is_async(cls):
            # On a processor thread (a job that must run alone, see isolation.py) or in
            # perform_now: run the coroutine to completion here.
            return async_perform.run_to_completion(self)
        chain = cls._perform_chain
        if chain is None:
            chain = cls._perform_chain = callbacks.collect(cls, "perform")
        if chain.empty:
            return self.perform(*self.args, **self.kwargs)
        return callbacks.run(self, chain, lambda: self.perform(*self.args, **self.kwargs))

    @classmethod
    def _enqueue_callbacks(cls) -> callbacks.CallbackChain:
        chain = cls._enqueue_chain
        if chain is None:
            chain = cls._enqueue_chain = callbacks.collect(cls, "enqueue")
        return chain

    def perform_inline(self) -> Any:
        """Run this instance now, applying retry_on/discard_on as perform_now does.

        A retry_on retry is enqueued through the adapter, carrying the payload's counts.
        Returns perform's result, or None when a callback halted it, it was discarded
        or a retry was enqueued.
        """
        cls = type(self)
        job = self
        if async_perform.is_async(cls):
            return async_perform.perform_inline_now(job)
        try:
            result = job.run_perform()
            return None if result is callbacks.HALTED else result
        except Exception as error:
            if rescue_inline(job, error):
                return None
            raise


def rescue_inline(job: Job, error: Exception) -> bool:
    """Apply the job's retry_on/discard_on rules to an error its inline perform raised.

    True when a rule handled it (a retry was enqueued or the job discarded); False when
    the caller must re-raise. Shared by the sync and the async `perform_inline`.
    """
    cls = type(job)
    decision = rescue.decide(cls, error, failure_state(job.payload), job.payload["retry"])
    if isinstance(decision, rescue.Retry) and decision.rule_key is not None:
        # As ActiveJob's retry_job: the retry is a new enqueue carrying the count.
        counts = dict(job.payload.get("exception_executions") or {})
        counts[decision.rule_key] = decision.executions
        retry_options = EnqueueOptions(
            queue=decision.queue or job.queue_name,
            wait=decision.delay,
            extra=(("exception_executions", counts),),
        )
        retry = enqueuing.enqueue(cls, job.args, retry_options, job.kwargs, retry_of=job)
        logger.info("%s failed with %r; retry %s enqueued", job, error, retry.jid)
        return True
    if isinstance(decision, rescue.Discard) and decision.by_rule:
        logger.info("%s discarded: %s: %s", job, decision.reason, error)
        if decision.callback is not None:
            decision.callback(job, error)
        return True
    return False


def failure_state(job_payload: JobDict) -> rescue.FailureState:
    """Earlier failures as recorded in a payload."""
    count = job_payload.get("retry_count")
    executions = job_payload.get("exception_executions")
    retry_for = job_payload.get("retry_for")
    return rescue.FailureState(
        retry_count=count if isinstance(count, int) and not isinstance(count, bool) else None,
        exception_executions=(
            {str(k): int(v) for k, v in executions.items() if isinstance(v, int)}
            if isinstance(executions, dict)
            else {}
        ),
        dead_allowed=job_payload.get("dead") is not False,
        retry_for=_number(retry_for),
        failed_at=payload.timestamp(job_payload.get("failed_at")),
    )


def _number(value: Any) -> float | None:
    """A JSON number as a float; None for anything else (booleans included, and integers
    too large for a float, which any client may write)."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        try:
            return float(value)
        except OverflowError:
            return None
    return None
