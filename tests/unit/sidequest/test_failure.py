"""runtime.failure: Sidekiq's error fields on failed payloads."""

from __future__ import annotations

import json

import pytest

from sidequest import MalformedPayloadError, payload
from sidequest.job.rescue import Retry
from sidequest.runtime import failure


class FailureSpecError(Exception):
    pass


def _raised(depth: int = 3, message: str = "boom") -> BaseException:
    """An exception with a real traceback `depth` frames deep."""

    def dive(level: int) -> None:
        if level == 0:
            raise FailureSpecError(message)
        dive(level - 1)

    try:
        dive(depth)
    except FailureSpecError as error:
        return error
    raise AssertionError("unreachable")


def test_first_failure_sets_retry_count_zero_and_failed_at() -> None:
    job = payload.build("FailingJob", [1], now=100.0)
    count = failure.record_error(job, ValueError("bad input"), 200.0)
    assert count == 0
    assert job["retry_count"] == 0
    assert job["failed_at"] == 200.0
    assert "retried_at" not in job
    assert job["error_class"] == "ValueError"
    assert job["error_message"] == "bad input"


def test_a_later_failure_increments_retry_count_and_sets_retried_at() -> None:
    job = payload.build("FailingJob", [1], now=100.0)
    failure.record_error(job, ValueError("first"), 200.0)
    count = failure.record_error(job, KeyError("second"), 300.0)
    assert count == 1
    assert job["retry_count"] == 1
    assert job["failed_at"] == 200.0
    assert job["retried_at"] == 300.0
    assert job["error_class"] == "KeyError"
    assert job["error_message"] == "'second'"
    assert failure.record_error(job, ValueError("third"), 400.0) == 2
    assert job["retried_at"] == 400.0


def test_a_boolean_retry_count_is_not_taken_for_a_number() -> None:
    job = {"class": "FailingJob", "args": [], "retry_count": True}
    assert failure.record_error(job, ValueError("x"), 1.0) == 0
    assert job["failed_at"] == 1.0


def test_error_class_of_a_non_builtin_is_qualified() -> None:
    job = payload.build("FailingJob", [])
    failure.record_error(job, FailureSpecError("x"), 1.0)
    assert job["error_class"] == f"{__name__}.FailureSpecError"


def test_the_message_is_cut_at_10000_characters() -> None:
    job = payload.build("FailingJob", [])
    failure.record_error(job, ValueError("x" * 25_000), 1.0)
    assert job["error_message"] == "x" * 10_000


def test_an_explicit_message_replaces_the_errors_text() -> None:
    job = payload.build("FailingJob", [])
    failure.record_error(job, ValueError("x"), 1.0, message="job ran out of time")
    assert job["error_message"] == "job ran out of time"


def test_an_empty_message_falls_back_to_the_class_name() -> None:
    assert failure.error_message(ValueError()) == "ValueError"


def test_a_silent_timeout_gets_a_message_naming_the_timeout() -> None:
    message = failure.error_message(TimeoutError(), timeout=2.5)
    assert "2.5s" in message
    assert failure.error_message(TimeoutError("own words"), timeout=2.5) == "own words"


def test_no_backtrace_is_saved_by_default() -> None:
    job = payload.build("FailingJob", [])
    failure.record_error(job, _raised(), 1.0)
    assert "error_backtrace" not in job


def test_backtrace_true_keeps_every_frame_innermost_first_as_sidekiq() -> None:
    job = payload.build("FailingJob", [])
    failure.record_error(job, _raised(depth=3), 1.0, backtrace=True)
    lines = payload.decode_backtrace(job["error_backtrace"])
    assert sum(1 for line in lines if line.endswith(":in `dive'")) == 4
    assert lines[0].endswith(":in `dive'")
    assert lines[-1].endswith(":in `_raised'")
    assert all(":" in line and "\n" not in line for line in lines)


def test_backtrace_n_keeps_the_innermost_frames() -> None:
    job = payload.build("FailingJob", [])
    failure.record_error(job, _raised(depth=10), 1.0, backtrace=3)
    lines = payload.decode_backtrace(job["error_backtrace"])
    assert len(lines) == 3
    assert all(line.endswith(":in `dive'") for line in lines)


def test_backtrace_entries_are_single_lines_as_in_sidekiq() -> None:
    job = payload.build("FailingJob", [])
    failure.record_error(job, _raised(depth=2), 1.0, backtrace=True)
    lines = payload.decode_backtrace(job["error_backtrace"])
    multi = [line for line in lines if "\n" in line]
    assert multi == [], f"error_backtrace entries hold several lines: {multi!r}"


def test_backtrace_n_limits_the_number_of_lines() -> None:
    job = payload.build("FailingJob", [])
    failure.record_error(job, _raised(depth=10), 1.0, backtrace=4)
    stored = payload.decode_backtrace(job["error_backtrace"])
    text_lines = "\n".join(stored).splitlines()
    assert len(text_lines) <= 4, f"backtrace=4 stored {len(text_lines)} lines: {text_lines!r}"


def test_the_payloads_backtrace_option_wins_over_the_class_default() -> None:
    # A Ruby client's `sidekiq_options backtrace: 2` (or false) travels in the payload.
    assert failure.backtrace_option(payload.build("J", [], extra={"backtrace": 2}), 30) == 2
    assert failure.backtrace_option(payload.build("J", [], extra={"backtrace": False}), 30) is False
    assert failure.backtrace_option(payload.build("J", [], extra={"backtrace": True}), 5) is True


def test_without_a_usable_backtrace_option_the_class_default_applies() -> None:
    assert failure.backtrace_option(payload.build("J", []), 30) == 30
    for odd in (-1, "all", None, 2.5):
        assert failure.backtrace_option(payload.build("J", [], extra={"backtrace": odd}), 7) == 7


def test_apply_retry_moves_the_job_to_the_rule_queue_and_counts_executions() -> None:
    job = payload.build("FailingJob", [], queue="default", extra={"retry_queue": "slow"})
    job["exception_executions"] = {"[KeyError]": 2}
    failure.apply_retry(
        job, Retry(3.0, 0, queue="rule-queue", rule_key="[ValueError]", executions=1)
    )
    assert job["queue"] == "rule-queue"
    assert job["exception_executions"] == {"[KeyError]": 2, "[ValueError]": 1}


def test_apply_retry_without_a_rule_queue_uses_retry_queue() -> None:
    job = payload.build("FailingJob", [], queue="default", extra={"retry_queue": "slow"})
    failure.apply_retry(job, Retry(3.0, 0))
    assert job["queue"] == "slow"
    assert "exception_executions" not in job


def test_apply_retry_without_any_retry_queue_keeps_the_queue() -> None:
    job = payload.build("FailingJob", [], queue="imports")
    failure.apply_retry(job, Retry(3.0, 4, rule_key="[ValueError]", executions=2))
    assert job["queue"] == "imports"
    assert job["exception_executions"] == {"[ValueError]": 2}


def test_wrap_malformed_makes_a_dead_entry_a_ui_can_show() -> None:
    raw = b"{not json"
    error = MalformedPayloadError("queue entry is not valid JSON")
    entry = payload.decode(failure.wrap_malformed(raw, "critical", error, 50.0))
    assert entry["class"] == failure.MALFORMED_CLASS
    assert entry["args"] == ["{not json"]
    assert entry["queue"] == "critical"
    assert entry["retry"] is False
    assert entry["failed_at"] == 50.0
    assert entry["retry_count"] == 0
    assert entry["error_class"] == "sidequest.errors.MalformedPayloadError"
    assert entry["error_message"] == "queue entry is not valid JSON"
    assert len(entry["jid"]) == 24


def test_wrap_malformed_survives_bytes_that_are_not_utf8() -> None:
    raw = b"\xff\xfe\x80garbage\xc3"
    encoded = failure.wrap_malformed(raw, "default", ValueError("bad"), 1.0)
    entry = json.loads(encoded)
    assert entry["args"][0].endswith("garbage\ufffd")
    assert "\ufffd" in entry["args"][0]
    encoded.encode("utf-8")  # storable as UTF-8


def test_wrap_malformed_cuts_a_long_error_message() -> None:
    entry = json.loads(failure.wrap_malformed(b"x", "q", ValueError("e" * 20_000), 1.0))
    assert len(entry["error_message"]) == 10_000


@pytest.mark.parametrize("raw", [b"", b"[]", b"null"])
def test_wrap_malformed_accepts_any_raw_entry(raw: bytes) -> None:
    entry = json.loads(failure.wrap_malformed(raw, "default", ValueError("x"), 1.0))
    assert entry["args"] == [raw.decode()]
