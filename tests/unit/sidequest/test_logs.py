"""The worker's log handler (sidequest.logs.LineBuffer) and the job log's direct lines."""

from __future__ import annotations

import io
import json
import logging
import time
from collections.abc import Iterator

import pytest

from sidequest import logs
from sidequest.middleware import JobContext
from sidequest.runtime.joblog import JobLog


@pytest.fixture
def root_logging() -> Iterator[None]:
    """Restore the root logger's handlers and level after a test configured them."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def _buffer(log_format: str) -> tuple[logs.LineBuffer, io.StringIO]:
    formatter = logs.JsonFormatter() if log_format == "json" else logs.TextFormatter()
    stream = io.StringIO()
    return logs.LineBuffer(stream, formatter), stream


def _wait_for(stream: io.StringIO, lines: int, seconds: float = 5.0) -> list[str]:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        written = stream.getvalue().splitlines()
        if len(written) >= lines:
            return written
        time.sleep(0.005)
    raise AssertionError(f"expected {lines} lines, got {stream.getvalue()!r}")


def _context() -> JobContext:
    return JobContext(
        jid="0123456789abcdef01234567",
        job_class="ReportJob",
        queue="reports",
        enqueued_at=1.0,
        started_at=2.0,
    )


def _without_time(line: str, log_format: str) -> object:
    if log_format == "json":
        entry = json.loads(line)
        del entry["ts"]
        return entry
    return line.split(" ", 2)[2]  # after the date and the time


@pytest.mark.parametrize("log_format", ["text", "json"])
def test_direct_lines_read_as_the_formatter_writes_them(
    root_logging: None, log_format: str
) -> None:
    logs.configure(log_format, "INFO")
    handler = logging.getLogger().handlers[0]
    assert isinstance(handler, logs.LineBuffer)
    direct, via_logging = io.StringIO(), io.StringIO()
    job_log = JobLog()

    handler.stream = direct
    job_log.start(_context())
    job_log.finish(_context(), "succeeded", 0.25, None)
    handler.flush()
    # The same calls through logging's records, with a filter making the logger's
    # chain one that the direct path must not take.
    logger = logging.getLogger("sidequest.job")
    logger.addFilter(lambda record: True)
    try:
        assert logs.line_sink(logger) is None
        handler.stream = via_logging
        job_log = JobLog()  # a fresh look at the configuration
        job_log.start(_context())
        job_log.finish(_context(), "succeeded", 0.25, None)
        handler.flush()
    finally:
        logger.filters.clear()

    expected = [_without_time(line, log_format) for line in via_logging.getvalue().splitlines()]
    got = [_without_time(line, log_format) for line in direct.getvalue().splitlines()]
    assert len(got) == 2 and got == expected
    assert "class=ReportJob jid=0123456789abcdef01234567 queue=reports start" in str(got[0])


def test_info_lines_are_written_within_the_flush_interval_without_a_flush_call() -> None:
    handler, stream = _buffer("text")
    handler.line("INFO", "sidequest.job", "one", {})
    handler.line("INFO", "sidequest.job", "two", {})
    started = time.monotonic()
    lines = _wait_for(stream, 2)
    assert time.monotonic() - started < logs.FLUSH_SECONDS + 1.0
    assert lines[0].endswith("INFO sidequest.job: one") and lines[1].endswith(": two")


def test_a_warning_is_written_at_once_after_the_lines_buffered_before_it() -> None:
    handler, stream = _buffer("text")
    logger = logging.Logger("test.order")
    logger.addHandler(handler)
    logger.info("first")
    logger.warning("second")
    # No waiting: the warning wrote the buffer before it.
    lines = stream.getvalue().splitlines()
    assert [line.rsplit(": ", 1)[1] for line in lines] == ["first", "second"]


def test_a_large_buffer_is_written_before_the_interval_ends(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(logs, "FLUSH_SECONDS", 30.0)
    handler, stream = _buffer("text")
    for _ in range(logs.FLUSH_LINES):
        handler.line("INFO", "big", "a line", {})
    _wait_for(stream, logs.FLUSH_LINES)


def test_an_application_handler_receives_job_lines_through_logging(root_logging: None) -> None:
    logs.configure("text", "INFO")
    handler = logging.getLogger().handlers[0]
    assert isinstance(handler, logs.LineBuffer)
    handler.stream = io.StringIO()
    received: list[logging.LogRecord] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            received.append(record)

    logger = logging.getLogger("sidequest.job")
    collector = Collect()
    logger.addHandler(collector)
    try:
        JobLog().start(_context())
    finally:
        logger.removeHandler(collector)
    assert [record.__dict__.get("event") for record in received] == ["start"]
    assert received[0].__dict__["jid"] == "0123456789abcdef01234567"


@pytest.mark.parametrize("log_format", ["text", "json"])
def test_a_retried_jobs_finish_line_says_when_its_next_attempt_runs(
    root_logging: None, log_format: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    logs.configure(log_format, "INFO")
    handler = logging.getLogger().handlers[0]
    stream = io.StringIO()
    handler.stream = stream  # type: ignore[attr-defined]
    monkeypatch.setattr(time, "time", lambda: 1_800_000_000.0)

    JobLog().finish(_context(), "retried", 0.25, ValueError("boom"), 1_800_000_017.4)
    handler.flush()

    [line] = stream.getvalue().splitlines()
    if log_format == "json":
        entry = json.loads(line)
        assert (entry["next_attempt_in"], entry["next_attempt_at"]) == (
            17.4,
            "2027-01-15T08:00:17Z",
        )
        assert entry["error_class"] == "ValueError"
        return
    assert line.endswith(
        "queue=reports retried duration=0.250000 next attempt in 17s at 2027-01-15 08:00:17 UTC "
        "error=ValueError: boom"
    )
