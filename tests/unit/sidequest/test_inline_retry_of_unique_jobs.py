"""A retry_on retry of a unique job, run inline, is not refused by its own lock."""

from __future__ import annotations

from typing import ClassVar

from sidequest import Job, retry_on
from sidequest.testing import FakeAdapter, perform_payload


@retry_on(ConnectionError, wait=5, attempts=3)
class UniqueFlakyJob(Job):
    unique_for = 3600
    failures_left: ClassVar[list[int]] = []

    def perform(self, user_id: int) -> None:
        if self.failures_left:
            self.failures_left.pop()
            raise ConnectionError("unreachable")


def test_the_retry_runs_instead_of_being_refused_as_a_duplicate(jobs: FakeAdapter) -> None:
    UniqueFlakyJob.failures_left[:] = [1]
    UniqueFlakyJob.perform_later(7)

    assert jobs.drain() == 2
    assert UniqueFlakyJob.failures_left == []


def test_the_retry_keeps_the_jid_and_the_lock_still_refuses_duplicates(
    jobs: FakeAdapter,
) -> None:
    UniqueFlakyJob.failures_left[:] = [1]
    first = UniqueFlakyJob.perform_later(8)

    perform_payload(jobs.jobs.pop(0).payload)

    [retry] = jobs.assert_enqueued(UniqueFlakyJob, args=[8], count=1)
    assert retry.jid == first.jid
    assert retry.at is not None
    duplicate = UniqueFlakyJob.perform_later(8)
    assert not duplicate.successfully_enqueued
    assert duplicate.duplicate_of == first.jid
