"""Flow control's pure parts and the runtime's in-process bookkeeping: expiry, debounce
options, the fake adapter's debounce, Job.cancelled, the paused-queue view, the
cancellations of running jobs, and the executor's drops. No Redis."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

from sidequest import Job, JobCancelled, payload
from sidequest.config import Settings
from sidequest.flow import expiry
from sidequest.middleware import CANCELLED, JobContext, Middleware, MiddlewareChain
from sidequest.runtime.cancelling import Cancellations, RunningJob
from sidequest.runtime.control import ControlListener
from sidequest.runtime.executor import Executor, TimedRun
from sidequest.runtime.fetched import Fetched
from sidequest.runtime.outcome import Ack
from sidequest.runtime.pausing import PausedQueues
from sidequest.runtime.watchdog import Guard, Watchdog
from sidequest.testing import fake
from tests.support.polling import wait_for


class FlowUnitJob(Job):
    expires_in = timedelta(minutes=10)

    def perform(self, n: int) -> None:
        pass


class FlowUnitCheckingJob(Job):
    def perform(self) -> None:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            self.check_cancelled()
            time.sleep(0.005)


# -- expiry ----------------------------------------------------------------------------


def test_expires_at_counts_from_when_the_job_is_due() -> None:
    with fake():
        now_job = FlowUnitJob.perform_later(1)
        later = FlowUnitJob.set(wait=3600, expires_in=5).perform_later(1)
    assert now_job.payload["expires_at"] == pytest.approx(now_job.payload["created_at"] + 600)
    assert later.payload["expires_at"] == pytest.approx(later.payload["created_at"] + 3605)


def test_only_a_first_attempt_past_its_deadline_expires() -> None:
    assert expiry.expired({"expires_at": 100.0}, now=100.5)
    assert not expiry.expired({"expires_at": 100.0}, now=99.0)
    assert not expiry.expired({"expires_at": 100.0, "retry_count": 0}, now=200.0)
    assert not expiry.expired({"expires_at": 100.0, "recoveries": 1}, now=200.0)
    assert not expiry.expired({"expires_at": "soon"}, now=200.0)
    assert not expiry.expired({"expires_at": True}, now=200.0)
    assert not expiry.expired({}, now=200.0)


# -- debounce options and the fake adapter ----------------------------------------------


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"debounce": 0}, "positive window"),
        ({"debounce": 5, "debounce_max": 1}, "at least the debounce window"),
        ({"debounce_key": "k"}, "need debounce"),
        ({"debounce": 5, "wait": 10}, "drop wait"),
        ({"debounce": 5, "debounce_key": ""}, "non-empty string"),
    ],
)
def test_debounce_options_are_checked(options: dict[str, Any], message: str) -> None:
    with fake(), pytest.raises(ValueError, match=message):
        FlowUnitJob.set(**options).perform_later(1)


def test_perform_bulk_refuses_to_debounce() -> None:
    with fake(), pytest.raises(ValueError, match="cannot debounce"):
        FlowUnitJob.set(debounce=5).perform_bulk([[1], [2]])


def test_the_fake_adapter_keeps_one_pending_job_per_debounce_key() -> None:
    with fake() as adapter:
        first = FlowUnitJob.set(debounce=5, debounce_key="k").perform_later(1)
        second = FlowUnitJob.set(debounce=5, debounce_key="k").perform_later(2)
        FlowUnitJob.set(debounce=5, debounce_key="other").perform_later(3)
    assert [job.args for job in adapter.jobs] == [[2], [3]]
    assert first.scheduled_at is not None and second.scheduled_at is not None
    assert second.scheduled_at >= first.scheduled_at


# -- Job.cancelled -----------------------------------------------------------------------


def test_check_cancelled_raises_once_the_job_is_cancelled() -> None:
    assert not FlowUnitJob(1).cancelled
    job = FlowUnitJob(1)
    job.check_cancelled()
    job._cancelled = True
    assert job.cancelled
    with pytest.raises(JobCancelled, match=job.jid):
        job.check_cancelled()


# -- the paused-queue view ---------------------------------------------------------------


def test_a_resume_wakes_the_waiters_and_calls_back_a_pause_does_not() -> None:
    resumed: list[bool] = []
    pauses = PausedQueues(on_resume=lambda: resumed.append(True))
    pauses.note_paused("low")
    assert pauses.is_paused("low") and not resumed
    assert not pauses.wait_resumed("low", 0.05)
    waiter_saw: list[bool] = []
    thread = threading.Thread(target=lambda: waiter_saw.append(pauses.wait_resumed("low", 10)))
    thread.start()
    pauses.replace([])
    thread.join(5)
    assert waiter_saw == [True] and resumed == [True]
    pauses.replace(["low"])
    pauses.replace(["low"])
    assert resumed == [True]


def test_the_control_listener_reads_each_announcement() -> None:
    pauses = PausedQueues()
    cancellations = Cancellations(1.0, lambda guard: True, lambda run: None)
    listener = ControlListener(None, None, pauses, cancellations)  # type: ignore[arg-type]
    listener.handle(b"pause low")
    listener.handle("cancel abc")
    listener.handle(b"garbage")
    listener.handle(b"pause")
    assert pauses.names() == {"low"} and cancellations.is_cancelled("abc")
    listener.handle(b"resume low")
    assert pauses.names() == frozenset()


# -- cancelling running jobs -------------------------------------------------------------


def running(jid: str = "a" * 24) -> RunningJob:
    job = payload.build("FlowUnitJob", [1], jid=jid)
    context = JobContext(jid, "FlowUnitJob", "default", None, time.time())
    instance = FlowUnitJob.from_payload(job, [1])
    return RunningJob(
        threading.get_ident(), Fetched("1:default", "default", b""), job, instance, context
    )


def test_a_cancel_sets_the_flag_and_abandons_after_the_grace_unless_the_job_left() -> None:
    abandoned: list[RunningJob] = []
    cancellations = Cancellations(0.05, lambda guard: True, abandoned.append)
    stops, leaves = running("s" * 24), running("l" * 24)
    stops.thread_id, leaves.thread_id = 1, 2  # fake threads: nothing is raised into them
    cancellations.enter(stops)
    cancellations.enter(leaves)

    cancellations.cancel("s" * 24)
    cancellations.cancel("l" * 24)
    assert stops.instance.cancelled and leaves.instance.cancelled
    assert cancellations.leave(leaves) is False  # it stopped in time

    wait_for(lambda: abandoned, timeout=5, message="the abandonment")
    assert abandoned == [stops] and stops.abandoned
    assert cancellations.leave(stops) is True  # its late end is ignored


def test_a_job_the_watchdog_abandoned_first_is_not_abandoned_again() -> None:
    abandoned: list[RunningJob] = []
    cancellations = Cancellations(0.01, lambda guard: False, abandoned.append)
    run = running()
    run.thread_id = 3
    run.guard = Guard(3, 0.0, None)
    cancellations.enter(run)
    cancellations.cancel(run.jid)
    time.sleep(0.2)  # the grace passes; the watchdog had it, so nothing happens
    assert not abandoned and not run.abandoned


def test_a_mark_known_before_the_start_cancels_the_job_as_it_enters() -> None:
    cancellations = Cancellations(60, lambda guard: True, lambda run: None)
    cancellations.replace({"m" * 24})
    run = running("m" * 24)
    cancellations.enter(run)
    assert run.instance.cancelled
    cancellations.leave(run)


# -- the executor's drops ----------------------------------------------------------------


class Outcomes(Middleware):
    def __init__(self) -> None:
        self.finished: list[tuple[str, BaseException | None]] = []

    def job_finished(
        self, job: JobContext, outcome: str, duration: float, error: BaseException | None
    ) -> None:
        self.finished.append((outcome, error))


class Counts:
    def __init__(self) -> None:
        self.counts: dict[str, int] = {}

    def add(self, name: str, count: int = 1) -> None:
        self.counts[name] = self.counts.get(name, 0) + count


@pytest.fixture
def parts() -> Iterator[tuple[Executor, Cancellations, Counts, Outcomes]]:
    def no_abandon(guard: Guard[TimedRun]) -> None:
        raise AssertionError("the watchdog abandons nothing here")

    watchdog: Watchdog[TimedRun] = Watchdog(5.0, no_abandon)
    watchdog.start()
    cancellations = Cancellations(5.0, watchdog.withdraw, lambda run: None)
    counts, outcomes = Counts(), Outcomes()
    executor = Executor(
        Settings(),
        MiddlewareChain([outcomes]),
        watchdog,
        cancellations=cancellations,
        counts=counts,
    )
    yield executor, cancellations, counts, outcomes
    watchdog.stop()


def execute(executor: Executor, job: dict[str, Any]) -> Ack:
    outcome = executor.execute(Fetched("1:default", "default", payload.encode(job).encode()))
    assert isinstance(outcome, Ack)
    return outcome


def test_a_marked_or_expired_job_is_acknowledged_unrun_and_counted(
    parts: tuple[Executor, Cancellations, Counts, Outcomes],
) -> None:
    executor, cancellations, counts, outcomes = parts
    cancellations.replace({"c" * 24})
    marked = payload.build("FlowUnitJob", [1], jid="c" * 24, extra={"unique_digest": "d"})
    late = payload.build("FlowUnitJob", [1], extra={"expires_at": time.time() - 1})

    assert execute(executor, marked).unique_digest == "d"  # its lock is freed
    execute(executor, late)

    assert counts.counts == {"cancelled": 1, "expired": 1}
    assert outcomes.finished == []  # neither started


def test_a_running_job_that_raises_job_cancelled_is_dropped_not_failed(
    parts: tuple[Executor, Cancellations, Counts, Outcomes],
) -> None:
    executor, cancellations, counts, outcomes = parts
    job = payload.build("FlowUnitCheckingJob", [], jid="r" * 24)
    threading.Timer(0.1, cancellations.cancel, ("r" * 24,)).start()

    execute(executor, job)

    assert outcomes.finished == [(CANCELLED, None)]
    assert counts.counts == {"cancelled": 1}
