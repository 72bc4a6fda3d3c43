"""runtime.backoff.Backoff: the wait after a Redis error, and the two lines it logs."""

from __future__ import annotations

import logging

import pytest
import redis

from sidequest.runtime.backoff import MAX_SECONDS, Backoff


def test_the_wait_doubles_from_a_tenth_of_a_second_to_two_seconds_spread_by_half() -> None:
    backoff = Backoff("fetcher")
    error = redis.ConnectionError("refused")
    for nominal in (0.1, 0.2, 0.4, 0.8, 1.6, MAX_SECONDS, MAX_SECONDS, MAX_SECONDS):
        delay = backoff.failed(error)
        assert nominal * 0.5 <= delay <= nominal * 1.5


def test_a_run_of_errors_logs_the_first_and_the_recovery_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    backoff = Backoff("scheduler")
    with caplog.at_level(logging.INFO, logger="sidequest"):
        for _ in range(5):
            backoff.failed(redis.ConnectionError("refused"))
        backoff.succeeded()
        backoff.succeeded()
    assert [record.getMessage() for record in caplog.records] == [
        "scheduler: Redis error: refused; retrying",
        "scheduler: Redis is reachable again",
    ]


def test_after_a_recovery_the_next_error_waits_the_shortest_time_again() -> None:
    backoff = Backoff("heartbeat")
    for _ in range(6):
        backoff.failed(redis.ConnectionError("refused"))
    backoff.succeeded()
    assert backoff.failed(redis.ConnectionError("refused")) <= 0.15
