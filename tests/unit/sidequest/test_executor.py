"""runtime.executor: the outcome of a job the worker cannot run as it is (an unknown
class, a malformed payload, arguments that do not fit) and of a job past its timeout."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from sidequest import Job, payload
from sidequest.config import Settings
from sidequest.job import registry
from sidequest.middleware import MiddlewareChain
from sidequest.runtime.executor import Executor, TimedRun
from sidequest.runtime.fetched import Fetched
from sidequest.runtime.outcome import Failure
from sidequest.runtime.watchdog import Guard, Watchdog


class ExecutorKnownJob(Job):
    def perform(self, n: int) -> None:
        pass


class ExecutorLoopingJob(Job):
    timeout = 0.2

    def perform(self) -> None:
        while True:  # Python bytecode: the watchdog's exception stops it
            pass


@pytest.fixture
def executor() -> Iterator[Executor]:
    def abandon(guard: Guard[TimedRun]) -> None:
        raise AssertionError("no job here should be abandoned")

    watchdog: Watchdog[TimedRun] = Watchdog(5.0, abandon)
    watchdog.start()
    yield Executor(Settings(), MiddlewareChain(), watchdog)
    watchdog.stop()


def run(executor: Executor, job: dict[str, Any] | bytes) -> Failure:
    raw = job if isinstance(job, bytes) else payload.encode(job).encode()
    outcome = executor.execute(Fetched("1:default", "default", raw))
    assert isinstance(outcome, Failure)
    return outcome


def unknown(**fields: Any) -> dict[str, Any]:
    return payload.build("ExecutorMissingJob", [1], jid="e" * 24, extra=fields)


def test_an_unknown_class_is_retried_on_sidekiqs_schedule_naming_what_the_worker_knows(
    executor: Executor,
) -> None:
    before = time.time()
    outcome = run(executor, unknown())

    assert outcome.mode == "retry"
    # Sidekiq's first delay: 0**4 + 15 s plus rand(10) * 1 s.
    assert before + 15 <= outcome.score <= time.time() + 25
    stored = json.loads(outcome.payload)
    assert stored["error_class"] == "sidequest.errors.UnknownJobError"
    assert stored["retry_count"] == 0
    message = stored["error_message"]
    assert message.startswith("no job class named 'ExecutorMissingJob' is registered in this")
    assert "it loaded no -r module" in message
    assert f"knows {len(registry.classes())} job classes: " in message
    assert "error_backtrace" not in stored  # the worker's own frames say nothing


def test_an_unknown_class_dies_when_the_payloads_retries_run_out(executor: Executor) -> None:
    outcome = run(executor, unknown(retry=2, retry_count=1, failed_at=time.time() - 60))

    assert outcome.mode == "dead"
    stored = json.loads(outcome.payload)
    assert stored["retry_count"] == 2
    assert stored["error_class"] == "sidequest.errors.UnknownJobError"


@pytest.mark.parametrize(
    ("fields", "mode"),
    [
        ({"retry": 0}, "dead"),
        ({"retry": False}, "discard"),
        ({"retry": 1, "retry_count": 0, "dead": False}, "discard"),
    ],
    ids=["retry-0-dies-at-once", "retry-false-drops-it", "dead-false-drops-it-when-exhausted"],
)
def test_an_unknown_class_follows_the_payloads_retry_and_dead_options(
    executor: Executor, fields: dict[str, Any], mode: str
) -> None:
    assert run(executor, unknown(**fields)).mode == mode


def test_an_unknown_class_is_retried_on_its_retry_queue(executor: Executor) -> None:
    outcome = run(executor, unknown(retry_queue="later"))

    assert outcome.mode == "retry"
    assert json.loads(outcome.payload)["queue"] == "later"


def test_a_malformed_payload_or_arguments_perform_cannot_take_still_die_at_once(
    executor: Executor,
) -> None:
    assert run(executor, b'{"args": [1]}').mode == "dead"
    mismatch = run(executor, payload.build("ExecutorKnownJob", [1, 2, 3]))
    assert mismatch.mode == "dead"
    assert json.loads(mismatch.payload)["error_class"] == "sidequest.errors.ArgumentMismatchError"


def test_a_job_stopped_by_its_timeout_says_its_limit_and_how_long_it_ran(
    executor: Executor,
) -> None:
    job = payload.build("ExecutorLoopingJob", [])
    outcome: list[Failure] = []
    thread = threading.Thread(target=lambda: outcome.append(run(executor, job)))
    thread.start()
    thread.join(10)

    [failure] = outcome
    assert failure.mode == "retry"
    stored = json.loads(failure.payload)
    assert stored["error_class"] == "sidequest.errors.JobTimeoutError"
    message = stored["error_message"]
    assert message.startswith("job exceeded its timeout of 0.2s and was stopped after 0.")
    elapsed = float(message.rsplit(" ", 1)[1].removesuffix("s"))
    assert 0.2 <= elapsed < 2
    # The traceback still shows where the job was when it was stopped.
    assert "in `perform'" in payload.decode_backtrace(stored["error_backtrace"])[0]


@pytest.mark.parametrize(
    "fields",
    [
        {"retry": 10**500, "retry_count": 10**400},
        {"retry_for": 10**400},
        {"retry": 10**500, "retry_count": 10**400, "retry_for": 10**400, "failed_at": 10**400},
    ],
    ids=["huge-count", "huge-window", "everything-huge"],
)
def test_an_unknown_class_with_numbers_no_clock_can_show_still_gets_an_outcome(
    executor: Executor, fields: dict[str, Any]
) -> None:
    # Any client can write any payload; the default policy now reads those of classes
    # no worker knows, so its numbers must not crash the processor.
    outcome = run(executor, unknown(**fields))

    assert outcome.mode in ("retry", "dead")
    assert json.loads(outcome.payload)["error_class"] == "sidequest.errors.UnknownJobError"
