"""The application base job logs every execution's duration."""

from __future__ import annotations

import logging
import re

import pytest

from shop.jobs import ApplicationJob


class TimedJob(ApplicationJob):
    job_name = "tests.shop_jobs.TimedJob"

    def perform(self, fail: bool) -> str:
        if fail:
            raise RuntimeError("boom")
        return "ran"


def test_a_successful_execution_is_logged_with_its_duration(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.INFO, logger="shop.jobs"):
        assert TimedJob.perform_now(False) == "ran"
    [record] = [r for r in caplog.records if r.name == "shop.jobs"]
    assert re.fullmatch(
        r"tests\.shop_jobs\.TimedJob [0-9a-f]{24} done in \d+\.\d ms \(execution 1\)",
        record.getMessage(),
    )
    assert isinstance(record.__dict__["duration"], float)


def test_a_failing_execution_is_logged_too_and_the_error_goes_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.INFO, logger="shop.jobs"), pytest.raises(RuntimeError):
        TimedJob.perform_now(True)
    [record] = [r for r in caplog.records if r.name == "shop.jobs"]
    assert " failed in " in record.getMessage()
