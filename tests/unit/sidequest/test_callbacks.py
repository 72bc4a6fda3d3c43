"""Callbacks around perform and enqueue: order, inheritance, halting, overriding."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import ClassVar

import pytest

from sidequest import (
    EnqueueError,
    Job,
    after_enqueue,
    after_perform,
    around_enqueue,
    around_perform,
    before_enqueue,
    before_perform,
)
from sidequest.adapter import DebounceSpec, PushResult, UniqueSpec, using
from sidequest.payload import JobDict
from sidequest.testing import FakeAdapter

Block = Callable[[], object]


class CallbackBaseJob(Job):
    log: ClassVar[list[str]] = []

    @before_perform
    def base_before(self) -> None:
        self.log.append("base before")

    @around_perform
    def base_around(self, block: Block) -> None:
        self.log.append("base around in")
        block()
        self.log.append("base around out")

    @after_perform
    def base_after(self) -> None:
        self.log.append("base after")

    @before_enqueue
    def base_before_enqueue(self) -> None:
        self.log.append("base before enqueue")

    @around_enqueue
    def base_around_enqueue(self, block: Block) -> None:
        self.log.append("base around enqueue in")
        block()
        self.log.append("base around enqueue out")

    @after_enqueue
    def base_after_enqueue(self) -> None:
        self.log.append("base after enqueue")


class CallbackChildJob(CallbackBaseJob):
    @before_perform
    def child_before(self) -> None:
        self.log.append("child before")

    @around_perform
    def child_around(self, block: Block) -> None:
        self.log.append("child around in")
        block()
        self.log.append("child around out")

    @after_perform
    def child_after(self) -> None:
        self.log.append("child after")

    @before_enqueue
    def child_before_enqueue(self) -> None:
        self.log.append("child before enqueue")

    @after_enqueue
    def child_after_enqueue(self) -> None:
        self.log.append("child after enqueue")

    def perform(self, value: int) -> int:
        self.log.append(f"perform {value}")
        if value < 0:
            raise ValueError("negative")
        return value * 2


class CallbackHaltingPerformJob(Job):
    log: ClassVar[list[str]] = []

    @around_perform
    def refuse(self, block: Block) -> None:
        self.log.append("refused")

    @after_perform
    def after(self) -> None:
        self.log.append("after")

    def perform(self) -> None:
        self.log.append("perform")


class CallbackHaltingEnqueueJob(Job):
    log: ClassVar[list[str]] = []

    @around_enqueue
    def refuse(self, block: Block) -> None:
        self.log.append("refused")

    @after_enqueue
    def after(self) -> None:
        self.log.append("after enqueue")

    def perform(self) -> None:
        pass


class CallbackOverrideBaseJob(Job):
    log: ClassVar[list[str]] = []

    @before_perform
    def audit(self) -> None:
        self.log.append("base audit")

    @before_perform
    def other(self) -> None:
        self.log.append("base other")

    def perform(self) -> None:
        self.log.append("perform")


class CallbackOverrideChildJob(CallbackOverrideBaseJob):
    @before_perform
    def audit(self) -> None:
        self.log.append("child audit")


class CallbackMovedChildJob(CallbackOverrideBaseJob):
    """Redeclares the base's before callback `audit` as an after callback."""

    @after_perform
    def audit(self) -> None:
        self.log.append("child audit after")


class CallbackTimedJob(Job):
    durations: ClassVar[list[float]] = []

    @around_perform
    def measure_time(self, block: Block) -> None:
        started = time.perf_counter()
        block()
        self.durations.append(time.perf_counter() - started)

    def perform(self, seconds: float) -> None:
        time.sleep(seconds)


class CallbackSeesJobJob(Job):
    seen: ClassVar[list[tuple[str, list[object], str]]] = []

    @before_perform
    def look(self) -> None:
        self.seen.append((self.jid, self.args, self.queue_name))

    def perform(self, n: int) -> None:
        pass


class LoggingFakeAdapter(FakeAdapter):
    """The fake adapter, noting in a log when a push happens."""

    def __init__(self, log: list[str]) -> None:
        super().__init__()
        self.log = log

    def push(
        self,
        job: JobDict,
        *,
        at: float | None = None,
        unique: UniqueSpec | None = None,
        debounce: DebounceSpec | None = None,
    ) -> PushResult:
        self.log.append("push")
        return super().push(job, at=at, unique=unique, debounce=debounce)


class RefusingAdapter:
    def push(
        self, payload: JobDict, *, at: float | None = None, unique: UniqueSpec | None = None
    ) -> PushResult:
        raise EnqueueError("redis is down")

    def push_bulk(self, payloads: list[JobDict], *, at: float | None = None) -> None:
        raise EnqueueError("redis is down")


@pytest.fixture(autouse=True)
def _clear_logs() -> None:
    for job_class in (
        CallbackBaseJob,
        CallbackHaltingPerformJob,
        CallbackHaltingEnqueueJob,
        CallbackOverrideBaseJob,
    ):
        job_class.log.clear()
    CallbackTimedJob.durations.clear()
    CallbackSeesJobJob.seen.clear()


def test_perform_callbacks_run_base_first_befores_then_arounds_then_afters() -> None:
    assert CallbackChildJob.perform_now(3) == 6
    assert CallbackBaseJob.log == [
        "base before",
        "child before",
        "base around in",
        "child around in",
        "perform 3",
        "child around out",
        "base around out",
        "base after",
        "child after",
    ]


def test_enqueue_callbacks_run_base_first_around_the_push() -> None:
    with using(LoggingFakeAdapter(CallbackBaseJob.log)) as adapter:
        CallbackChildJob.perform_later(1)
    assert CallbackBaseJob.log == [
        "base before enqueue",
        "child before enqueue",
        "base around enqueue in",
        "push",
        "base around enqueue out",
        "base after enqueue",
        "child after enqueue",
    ]
    assert isinstance(adapter, LoggingFakeAdapter)
    assert len(adapter.jobs) == 1


def test_enqueue_does_not_run_perform_callbacks(jobs: FakeAdapter) -> None:
    CallbackChildJob.perform_later(1)
    assert CallbackBaseJob.log
    assert all("enqueue" in entry for entry in CallbackBaseJob.log)


def test_an_around_perform_that_does_not_call_its_block_halts_the_job() -> None:
    CallbackHaltingPerformJob.perform_now()
    assert CallbackHaltingPerformJob.log == ["refused"]


def test_an_around_enqueue_that_does_not_call_its_block_halts_the_enqueue(
    jobs: FakeAdapter,
) -> None:
    job = CallbackHaltingEnqueueJob.perform_later()
    assert jobs.jobs == []
    assert job.successfully_enqueued is False
    assert CallbackHaltingEnqueueJob.log == ["refused"]


def test_after_perform_callbacks_are_skipped_when_perform_raises() -> None:
    with pytest.raises(ValueError, match="negative"):
        CallbackChildJob.perform_now(-1)
    log = CallbackBaseJob.log
    assert "perform -1" in log
    assert "base after" not in log
    assert "child after" not in log
    assert "child around out" not in log


def test_after_enqueue_callbacks_are_skipped_when_the_push_fails() -> None:
    with using(RefusingAdapter()), pytest.raises(EnqueueError):
        CallbackChildJob.perform_later(1)
    log = CallbackBaseJob.log
    assert "child before enqueue" in log
    assert "base after enqueue" not in log
    assert "child after enqueue" not in log


def test_a_subclass_overriding_a_callback_method_replaces_it() -> None:
    CallbackOverrideChildJob.perform_now()
    assert CallbackOverrideBaseJob.log == ["child audit", "base other", "perform"]


def test_the_base_class_keeps_its_own_callback_when_a_subclass_overrides_it() -> None:
    CallbackOverrideBaseJob.perform_now()
    assert CallbackOverrideBaseJob.log == ["base audit", "base other", "perform"]


def test_a_subclass_redeclaring_a_callback_under_another_kind_replaces_it() -> None:
    CallbackMovedChildJob.perform_now()
    # `audit` is now only an after_perform callback: it must not also run as a before one.
    assert CallbackOverrideBaseJob.log == ["base other", "perform", "child audit after"]


def test_the_measure_time_example_records_how_long_perform_took() -> None:
    CallbackTimedJob.perform_now(0.02)
    [duration] = CallbackTimedJob.durations
    assert 0.015 <= duration < 1.0


def test_callbacks_see_the_job_they_wrap() -> None:
    CallbackSeesJobJob.set(queue="observed").perform_now(5)
    [(jid, args, queue)] = CallbackSeesJobJob.seen
    assert len(jid) == 24
    assert args == [5]
    assert queue == "observed"
