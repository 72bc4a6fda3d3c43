"""The Job class: ActiveJob's API over Sidekiq's payloads.

    class ProcessReportJob(Job):
        queue = "default"
        timeout = 300
        unique_for = timedelta(hours=1)

        def perform(self, report_id: int) -> None: ...

    ProcessReportJob.perform_later(42)
    ProcessReportJob.set(wait=timedelta(minutes=5), queue="critical").perform_later(42)

This module holds the class: its options, the state a running job sees, its callbacks
and how it is performed. Enqueuing (preparing the payload and handing it to the current
adapter) is `sidequest.job.enqueuing`; nothing here or there talks to Redis, so jobs
work with the test adapters and no server.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Iterable, Sequence
from datetime import timedelta
from typing import Any, ClassVar, Self

from sidequest import payload
from sidequest.errors import ArgumentMismatchError
from sidequest.job import callbacks, enqueuing, registry, rescue
from sidequest.job.enqueuing import ConfiguredJob
from sidequest.job.options import NO_OPTIONS, Delay, EnqueueOptions, When
from sidequest.payload import JobDict

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

    _perform_chain: ClassVar[callbacks.CallbackChain | None] = None
    _enqueue_chain: ClassVar[callbacks.CallbackChain | None] = None
    _arity: ClassVar[tuple[int, int | None] | None] = None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "job_name" not in cls.__dict__:
            cls.job_name = cls.__name__
        cls._perform_chain = None
        cls._enqueue_chain = None
        cls._arity = None
        registry.register(cls)

    # What one job is; __init__ and from_payload both set all of it through _assign.
    args: list[Any]
    jid: str
    queue_name: str
    payload: JobDict
    #: epoch seconds the pushed job is due at; None when it was pushed to run at once
    scheduled_at: float | None
    successfully_enqueued: bool
    #: the jid holding the unique lock that refused this enqueue
    duplicate_of: str | None

    def __init__(self, *args: Any) -> None:
        self._assign(list(args), payload.new_jid(), type(self).queue)

    @classmethod
    def from_payload(cls, job_payload: JobDict, args: list[Any]) -> Self:
        """The instance a worker performs, carrying the payload's identity.

        Built without calling `__init__`, which would draw a jid only to replace it.
        """
        job = cls.__new__(cls)
        job._assign(
            args,
            str(job_payload.get("jid", "")),
            str(job_payload.get("queue", cls.queue)),
            job_payload,
            enqueued=True,
        )
        return job

    def _assign(
        self,
        args: list[Any],
        jid: str,
        queue_name: str,
        job_payload: JobDict | None = None,
        *,
        enqueued: bool = False,
    ) -> None:
        self.args = args
        self.jid = jid
        self.queue_name = queue_name
        self.payload = {} if job_payload is None else job_payload
        self.scheduled_at = None
        self.successfully_enqueued = enqueued
        self.duplicate_of = None

    def perform(self, *args: Any) -> Any:
        raise NotImplementedError(f"{type(self).__name__} must define perform()")

    def __repr__(self) -> str:
        return f"<{type(self).__name__} jid={self.jid} queue={self.queue_name} args={self.args!r}>"

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

    # -- enqueuing ------------------------------------------------------------------------

    @classmethod
    def set(
        cls,
        *,
        queue: str | None = None,
        wait: Delay | None = None,
        wait_until: When | None = None,
        retry: bool | int | None = None,
    ) -> ConfiguredJob:
        """Options for one enqueue: `Job.set(queue="critical", wait=60).perform_later(1)`."""
        return ConfiguredJob(cls, EnqueueOptions(queue, wait, wait_until, retry))

    @classmethod
    def perform_later(cls, *args: Any) -> Self:
        """Enqueue the job; returns it (see `jid`, `successfully_enqueued`)."""
        return enqueuing.enqueue(cls, args, NO_OPTIONS)

    @classmethod
    def perform_in(cls, delay: Delay, *args: Any) -> Self:
        """Run after `delay` seconds (or a timedelta)."""
        return enqueuing.enqueue(cls, args, EnqueueOptions(wait=delay))

    @classmethod
    def perform_at(cls, when: When, *args: Any) -> Self:
        """Run at `when`: a datetime or epoch seconds."""
        return enqueuing.enqueue(cls, args, EnqueueOptions(wait_until=when))

    @classmethod
    def perform_now(cls, *args: Any) -> Any:
        """Run inline, with callbacks and retry_on/discard_on as a worker would apply them."""
        return enqueuing.perform_now(cls, args, NO_OPTIONS)

    @classmethod
    def perform_bulk(
        cls, args_list: Iterable[Sequence[Any]], *, batch_size: int = 1000
    ) -> list[str]:
        """Enqueue one job per argument list in pipelined batches; returns the jids.

        Like Sidekiq's push_bulk (and ActiveJob's perform_all_later), enqueue callbacks
        do not run. Unique jobs fall back to one push each, so each takes its lock; a
        refused duplicate is left out of the returned jids.
        """
        return enqueuing.enqueue_bulk(cls, args_list, NO_OPTIONS, batch_size)

    @classmethod
    def check_arity(cls, count: int) -> None:
        """Raise ArgumentMismatchError unless `perform` accepts `count` positional arguments."""
        if cls._arity is None:
            cls._arity = _positional_arity(cls.perform)
        low, high = cls._arity
        if count < low or (high is not None and count > high):
            expected = (
                f"{low}" if low == high else f"{low} to {high if high is not None else 'any'}"
            )
            raise ArgumentMismatchError(
                f"{cls.job_name}.perform takes {expected} argument(s), got {count}"
            )

    # -- performing -----------------------------------------------------------------------

    def run_perform(self) -> Any:
        """perform(*args) inside the perform callbacks; HALTED if a callback stopped it."""
        cls = type(self)
        chain = cls._perform_chain
        if chain is None:
            chain = cls._perform_chain = callbacks.collect(cls, "perform")
        if chain.empty:
            return self.perform(*self.args)
        return callbacks.run(self, chain, lambda: self.perform(*self.args))

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
        try:
            result = job.run_perform()
            return None if result is callbacks.HALTED else result
        except Exception as error:
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
                retry = enqueuing.enqueue(cls, job.args, retry_options, retry_of=job)
                logger.info("%s failed with %r; retry %s enqueued", job, error, retry.jid)
                return None
            if isinstance(decision, rescue.Discard) and decision.by_rule:
                logger.info("%s discarded: %s: %s", job, decision.reason, error)
                if decision.callback is not None:
                    decision.callback(job, error)
                return None
            raise


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
    """A JSON number as a float; None for anything else (booleans included)."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return None


def _positional_arity(perform: Any) -> tuple[int, int | None]:
    """(required, maximum or None) positional arguments of `perform`, self excluded."""
    signature = inspect.signature(perform)
    parameters = list(signature.parameters.values())[1:]
    low = 0
    high: int | None = 0
    for parameter in parameters:
        if parameter.kind in (parameter.POSITIONAL_ONLY, parameter.POSITIONAL_OR_KEYWORD):
            if high is not None:
                high += 1
            if parameter.default is parameter.empty:
                low += 1
        elif parameter.kind is parameter.VAR_POSITIONAL:
            high = None
    return low, high
