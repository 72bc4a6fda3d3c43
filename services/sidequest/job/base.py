"""The Job class: ActiveJob's API over Sidekiq's payloads.

    class ProcessReportJob(Job):
        queue = "default"
        timeout = 300
        unique_for = timedelta(hours=1)

        def perform(self, report_id: int) -> None: ...

    ProcessReportJob.perform_later(42)
    ProcessReportJob.set(wait=timedelta(minutes=5), queue="critical").perform_later(42)

Enqueuing builds a payload and hands it to the current adapter (`sidequest.adapter`);
nothing here talks to Redis, so jobs work with the test adapters and no server.
"""

from __future__ import annotations

import inspect
import logging
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, ClassVar, Self

from sidequest import arguments, payload
from sidequest.adapter import UniqueSpec, current_adapter, enqueuing
from sidequest.errors import ArgumentMismatchError
from sidequest.job import callbacks, registry, rescue

logger = logging.getLogger("sidequest")

Delay = float | int | timedelta
When = datetime | float | int

# perform_in/perform_at values below this are relative seconds, as in Sidekiq.
_ABSOLUTE_EPOCH_THRESHOLD = 1_000_000_000


@dataclass(frozen=True)
class EnqueueOptions:
    """What `Job.set(...)` can change for one enqueue."""

    queue: str | None = None
    wait: Delay | None = None
    wait_until: When | None = None
    retry: bool | int | None = None
    extra: tuple[tuple[str, Any], ...] = ()

    def run_at(self, now: float) -> float | None:
        """Epoch seconds to run at, or None to run as soon as possible."""
        if self.wait_until is not None:
            return to_epoch(self.wait_until, now)
        if self.wait is not None:
            return now + to_seconds(self.wait)
        return None


def to_seconds(value: Delay) -> float:
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"a delay must be seconds or a timedelta, not {value!r}")
    return float(value)


def to_epoch(value: When, now: float) -> float:
    """A datetime (naive ones are local time) or epoch seconds; small numbers are relative."""
    if isinstance(value, datetime):
        return value.timestamp()
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"a time must be a datetime or epoch seconds, not {value!r}")
    return float(value) if value >= _ABSOLUTE_EPOCH_THRESHOLD else now + float(value)


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

    def __init__(self, *args: Any) -> None:
        self.args: list[Any] = list(args)
        self.jid: str = payload.new_jid()
        self.queue_name: str = type(self).queue
        self.payload: payload.JobDict = {}
        self.scheduled_at: float | None = None
        self.successfully_enqueued: bool = False
        self.duplicate_of: str | None = None

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
        return cls._enqueue(args, EnqueueOptions())

    @classmethod
    def perform_in(cls, delay: Delay, *args: Any) -> Self:
        """Run after `delay` seconds (or a timedelta)."""
        return cls._enqueue(args, EnqueueOptions(wait=delay))

    @classmethod
    def perform_at(cls, when: When, *args: Any) -> Self:
        """Run at `when`: a datetime or epoch seconds."""
        return cls._enqueue(args, EnqueueOptions(wait_until=when))

    @classmethod
    def perform_now(cls, *args: Any) -> Any:
        """Run inline, with callbacks and retry_on/discard_on as a worker would apply them."""
        return cls._perform_now(args, EnqueueOptions())

    @classmethod
    def perform_bulk(
        cls, args_list: Iterable[Sequence[Any]], *, batch_size: int = 1000
    ) -> list[str]:
        """Enqueue one job per argument list in pipelined batches; returns the jids.

        Like Sidekiq's push_bulk (and ActiveJob's perform_all_later), enqueue callbacks
        do not run. Unique jobs fall back to one push each, so each takes its lock; a
        refused duplicate is left out of the returned jids.
        """
        return cls._enqueue_bulk(args_list, EnqueueOptions(), batch_size)

    @classmethod
    def _enqueue(
        cls, args: Sequence[Any], options: EnqueueOptions, *, retry_of: Job | None = None
    ) -> Self:
        job = cls(*cls._checked_args(args))
        if retry_of is not None:
            # A retry keeps its job's jid (as ActiveJob's retry_job keeps job_id) and
            # inherits the unique lock that jid holds: taking the lock again would refuse
            # the retry as a duplicate of the very execution that failed.
            job.jid = retry_of.jid
        now = time.time()
        job.queue_name = options.queue or cls.queue
        job.payload = cls._build_payload(job.jid, job.args, job.queue_name, options, now)
        run_at = options.run_at(now)
        job.scheduled_at = run_at if run_at is not None and run_at > now else None
        unique = cls._unique_spec(job, now) if retry_of is None else None

        def push() -> None:
            with enqueuing(cls):
                result = current_adapter().push(job.payload, at=job.scheduled_at, unique=unique)
            job.successfully_enqueued = result.enqueued
            job.duplicate_of = result.holder

        if callbacks.run(job, cls._enqueue_callbacks(), push) is callbacks.HALTED:
            logger.info("enqueue of %s halted by a callback", job)
        elif not job.successfully_enqueued:
            logger.info("%s not enqueued: duplicate of %s (unique_for)", job, job.duplicate_of)
        return job

    @classmethod
    def _enqueue_bulk(
        cls, args_list: Iterable[Sequence[Any]], options: EnqueueOptions, batch_size: int
    ) -> list[str]:
        if cls.unique_for is not None:
            return cls._enqueue_bulk_unique(args_list, options)
        adapter = current_adapter()
        now = time.time()
        queue = options.queue or cls.queue
        run_at = options.run_at(now)
        at = run_at if run_at is not None and run_at > now else None
        # Every job of the call shares all fields but its jid and arguments: build them once.
        template = cls._build_payload("", [], queue, options, now)
        jids: list[str] = []
        for batch_args in _batches(args_list, batch_size):
            batch_jids = payload.new_jids(len(batch_args))
            batch = [
                {**template, "args": cls._checked_args(args), "jid": jid}
                for args, jid in zip(batch_args, batch_jids, strict=True)
            ]
            with enqueuing(cls):
                adapter.push_bulk(batch, at=at)
            jids += batch_jids
        return jids

    @classmethod
    def _enqueue_bulk_unique(
        cls, args_list: Iterable[Sequence[Any]], options: EnqueueOptions
    ) -> list[str]:
        """One push per job so each takes its lock; refused duplicates get no jid."""
        adapter = current_adapter()
        jids: list[str] = []
        for args in args_list:
            job = cls(*cls._checked_args(args))
            now = time.time()
            job.queue_name = options.queue or cls.queue
            job.payload = cls._build_payload(job.jid, job.args, job.queue_name, options, now)
            run_at = options.run_at(now)
            job.scheduled_at = run_at if run_at is not None and run_at > now else None
            with enqueuing(cls):
                result = adapter.push(
                    job.payload, at=job.scheduled_at, unique=cls._unique_spec(job, now)
                )
            if result.enqueued:
                jids.append(job.jid)
        return jids

    @classmethod
    def _build_payload(
        cls, jid: str, args: list[Any], queue: str, options: EnqueueOptions, now: float
    ) -> payload.JobDict:
        retry = cls.retry if options.retry is None else options.retry
        extra: dict[str, Any] = dict(options.extra)
        if cls.retry_queue is not None:
            extra.setdefault("retry_queue", cls.retry_queue)
        if cls.retry_for is not None:
            # Whole seconds, as Sidekiq clients write it.
            extra.setdefault("retry_for", round(to_seconds(cls.retry_for)))
        if cls.unique_for is not None:
            extra["unique_for"] = to_seconds(cls.unique_for)
            extra["unique_digest"] = payload.unique_digest(cls.job_name, queue, args)
        if not cls.dead:
            extra["dead"] = False
        return payload.build(
            cls.job_name, args, queue=queue, retry=retry, jid=jid, extra=extra, now=now
        )

    @classmethod
    def _unique_spec(cls, job: Job, now: float) -> UniqueSpec | None:
        if cls.unique_for is None:
            return None
        ttl = to_seconds(cls.unique_for)
        if job.scheduled_at is not None:
            ttl += job.scheduled_at - now
        return UniqueSpec(digest=str(job.payload["unique_digest"]), ttl=ttl)

    @classmethod
    def _checked_args(cls, args: Sequence[Any]) -> list[Any]:
        checked = arguments.validate(list(args), cls.job_name)
        cls.check_arity(len(checked))
        return checked

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

    @classmethod
    def _perform_now(cls, args: Sequence[Any], options: EnqueueOptions) -> Any:
        # Inline runs skip the JSON check (nothing crosses Redis), as ActiveJob's do.
        cls.check_arity(len(args))
        job = cls(*args)
        job.queue_name = options.queue or cls.queue
        job.payload = cls._build_payload(job.jid, job.args, job.queue_name, options, time.time())
        return job.perform_inline()

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
                retry = cls._enqueue(job.args, retry_options, retry_of=job)
                logger.info("%s failed with %r; retry %s enqueued", job, error, retry.jid)
                return None
            if isinstance(decision, rescue.Discard) and decision.by_rule:
                logger.info("%s discarded: %s: %s", job, decision.reason, error)
                if decision.callback is not None:
                    decision.callback(job, error)
                return None
            raise

    @classmethod
    def from_payload(cls, job_payload: payload.JobDict, args: list[Any]) -> Self:
        """The instance a worker performs, carrying the payload's identity."""
        job = cls.__new__(cls)
        job.args = args
        job.jid = str(job_payload.get("jid", ""))
        job.queue_name = str(job_payload.get("queue", cls.queue))
        job.payload = job_payload
        job.scheduled_at = None
        job.successfully_enqueued = True
        job.duplicate_of = None
        return job


class ConfiguredJob:
    """A job class with options from `Job.set(...)`, ready to enqueue or perform."""

    def __init__(self, job_class: type[Job], options: EnqueueOptions):
        self.job_class = job_class
        self.options = options

    def set(self, **changes: Any) -> ConfiguredJob:
        return ConfiguredJob(self.job_class, replace(self.options, **changes))

    def perform_later(self, *args: Any) -> Job:
        return self.job_class._enqueue(args, self.options)

    def perform_now(self, *args: Any) -> Any:
        return self.job_class._perform_now(args, self.options)

    def perform_bulk(
        self, args_list: Iterable[Sequence[Any]], *, batch_size: int = 1000
    ) -> list[str]:
        return self.job_class._enqueue_bulk(args_list, self.options, batch_size)


def _batches(items: Iterable[Sequence[Any]], size: int) -> Iterator[list[Sequence[Any]]]:
    batch: list[Sequence[Any]] = []
    for item in items:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def failure_state(job_payload: payload.JobDict) -> rescue.FailureState:
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
