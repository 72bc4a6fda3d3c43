"""Progress throttling: at most a few writes a second per job, the last value never lost."""

from __future__ import annotations

import pytest

from sidequest import progress
from sidequest.job import Job


class Recorder:
    def __init__(self) -> None:
        self.writes: list[tuple[str, float]] = []

    def write(self, jid: str, update: progress.Update) -> None:
        self.writes.append((jid, update.done))


def test_calls_within_the_interval_keep_only_their_last_value_until_a_flush() -> None:
    sink = Recorder()
    throttle = progress.Throttle(sink, interval=3600)
    for done in range(1, 1001):
        throttle.report("a", progress.Update(done, 1000, "", 0.0))
    throttle.report("b", progress.Update(1, None, "", 0.0))

    first = list(sink.writes)
    throttle.flush()  # a heartbeat: the interval has not passed, nothing is due
    held = list(sink.writes)
    throttle.flush("a")  # the job ended: its last value is written

    assert first == held == [("a", 1), ("b", 1)]  # the first of each job, at once
    assert sink.writes == [*held, ("a", 1000)]
    assert throttle.forget("a")
    assert not throttle.forget("never")


def test_a_heartbeat_flush_writes_what_waited_longer_than_the_interval() -> None:
    sink = Recorder()
    throttle = progress.Throttle(sink, interval=0.0)
    throttle.report("a", progress.Update(1, 2, "", 0.0))
    throttle.report("a", progress.Update(2, 2, "", 0.0))
    assert sink.writes == [("a", 1), ("a", 2)]
    throttle.flush()
    assert len(sink.writes) == 2  # nothing waiting


class Reporting(Job):
    def perform(self, steps: int) -> None:
        for step in range(steps):
            self.progress(step + 1, steps, "working")


def test_outside_a_worker_progress_is_kept_on_the_job_only() -> None:
    job = Reporting(3)
    job.progress(2, 3, "two")
    assert job.last_progress is not None
    assert (job.last_progress.done, job.last_progress.total) == (2.0, 3.0)
    assert Reporting.perform_now(3) is None


@pytest.mark.parametrize("bad", [True, "3", None])
def test_done_must_be_a_number(bad: object) -> None:
    with pytest.raises(TypeError):
        progress.report("a", bad)  # type: ignore[arg-type]
