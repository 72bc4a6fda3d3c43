"""Payloads for failed executions, with Sidekiq's error fields. Pure, no I/O.

Sidekiq's rules: the first failure sets `retry_count` 0 and `failed_at`; each later
one increments `retry_count` and sets `retried_at`. `error_message` is cut at 10,000
characters; `error_backtrace` is base64(zlib(JSON lines)) when backtraces are kept.
"""

from __future__ import annotations

import traceback
from typing import Any

from sidequest import payload
from sidequest.job.rescue import Retry, error_class_name
from sidequest.payload import JobDict

MAX_MESSAGE = 10_000
MALFORMED_CLASS = "sidequest.MalformedPayload"


def storable(text: str) -> str:
    """`text` with lone surrogates written as `\\udcff` escapes, so it encodes as UTF-8.

    Python decodes file names that are not UTF-8 with surrogateescape; an error message
    or a backtrace naming such a file would otherwise make the payload unwritable, and
    the thread writing it to Redis would die with UnicodeEncodeError.
    """
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def error_message(error: BaseException, timeout: float | None = None) -> str:
    try:
        message = str(error)
    except Exception:  # an exception whose __str__ fails must not fail the worker
        message = f"({type(error).__name__}; its message could not be read)"
    if not message and timeout is not None and isinstance(error, TimeoutError):
        message = f"job exceeded its timeout of {timeout:g}s and was stopped"
    return storable((message or type(error).__name__)[:MAX_MESSAGE])


def record_error(
    job: JobDict,
    error: BaseException,
    now: float,
    *,
    backtrace: bool | int = False,
    message: str | None = None,
) -> int:
    """Set the error fields on `job` and return its new retry_count."""
    previous = job.get("retry_count")
    if isinstance(previous, int) and not isinstance(previous, bool):
        count = previous + 1
        job["retried_at"] = now
    else:
        count = 0
        job["failed_at"] = now
    job["retry_count"] = count
    job["error_message"] = message if message is not None else error_message(error)
    job["error_class"] = error_class_name(error)
    if backtrace:
        lines = backtrace_lines(error)
        if backtrace is not True:
            lines = lines[: int(backtrace)]
        job["error_backtrace"] = payload.encode_backtrace(lines)
    return count


def backtrace_option(job: JobDict, default: bool | int) -> bool | int:
    """How much backtrace to keep: the payload's `backtrace` when it has one, else `default`.

    Sidekiq clients copy `sidekiq_options backtrace: N` (or false) into the payload, and
    Sidekiq's own workers obey it there; a Ruby app enqueueing for our workers expects the same.
    """
    value = job.get("backtrace")
    if isinstance(value, bool) or (isinstance(value, int) and value >= 0):
        return value
    return default


def backtrace_lines(error: BaseException) -> list[str]:
    """`path:line:in `function'` per frame, innermost first: Sidekiq's (Ruby's) shape."""
    frames = traceback.extract_tb(error.__traceback__)
    return [
        storable(f"{frame.filename}:{frame.lineno}:in `{frame.name}'") for frame in reversed(frames)
    ]


def apply_retry(job: JobDict, decision: Retry) -> None:
    """Point the job at its retry queue and count the rule's executions."""
    if decision.queue:
        job["queue"] = decision.queue
    elif isinstance(job.get("retry_queue"), str):
        job["queue"] = job["retry_queue"]
    count_rule_execution(job, decision.rule_key, decision.executions)


def count_rule_execution(job: JobDict, rule_key: str | None, executions: int) -> None:
    """Record in `exception_executions` how often a retry_on rule's errors happened."""
    if rule_key is not None:
        counts: dict[str, Any] = dict(job.get("exception_executions") or {})
        counts[rule_key] = executions
        job["exception_executions"] = counts


def wrap_malformed(raw: bytes, queue: str, error: BaseException, now: float) -> str:
    """A dead-set entry for a queue entry that is not a job, so UIs can still show it."""
    text = raw.decode("utf-8", errors="replace")
    job = payload.build(MALFORMED_CLASS, [text], queue=queue, retry=False, now=now)
    job["failed_at"] = now
    job["retry_count"] = 0
    job["error_class"] = error_class_name(error)
    job["error_message"] = str(error)[:MAX_MESSAGE]
    return payload.encode(job)
