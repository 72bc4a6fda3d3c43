"""One structured log line when a job starts and one when it finishes.

Text lines read `class=ProcessReportJob jid=... queue=default start` and
`... succeeded duration=0.012`; a retried job's adds when it runs again,
`... retried duration=0.012 next attempt in 17s at 2026-12-02 07:12:06 UTC error=...`.
With the JSON format (`sidequest.logs`) the same fields become keys: event, jid,
job_class, queue, outcome, duration, error_class, next_attempt_in (seconds) and
next_attempt_at (ISO 8601, UTC).

While nothing but the worker's own handler (`sidequest.logs.LineBuffer`) listens to
this logger, the lines go to it ready-made, without a LogRecord: two lines per job
through the standard machinery cost more than an I/O-bound job. An application that
adds a handler or a filter gets every line through `logging` as usual (from at most a
second later: the configuration is looked at once a second).
"""

from __future__ import annotations

import logging
import time

from sidequest import logs
from sidequest.middleware import JobContext

logger = logging.getLogger("sidequest.job")


# How long a look at the logging configuration holds: an application that adds a handler
# while jobs run gets the lines through it from at most this much later.
_SINK_SECONDS = 1.0


class JobLog:
    def __init__(self) -> None:
        self._sink: logs.LineBuffer | None = None
        self._sink_until = 0.0

    def _direct(self) -> logs.LineBuffer | None:
        now = time.monotonic()
        if now >= self._sink_until:
            self._sink = logs.line_sink(logger)
            self._sink_until = now + _SINK_SECONDS
        return self._sink

    def _info(self, message: str, fields: dict[str, object]) -> None:
        sink = self._direct()
        if sink is not None:
            sink.line("INFO", logger.name, message, fields)
        else:
            logger.info("%s", message, extra=fields)

    def start(self, job: JobContext) -> None:
        if not logger.isEnabledFor(logging.INFO):
            return
        message = f"class={job.job_class} jid={job.jid} queue={job.queue} start"
        fields: dict[str, object] = {
            "event": "start",
            "jid": job.jid,
            "job_class": job.job_class,
            "queue": job.queue,
        }
        self._info(message, fields)

    def finish(
        self,
        job: JobContext,
        outcome: str,
        duration: float,
        error: BaseException | None,
        next_attempt: float | None = None,
    ) -> None:
        """The finish line; `next_attempt` is when a retried job runs again (epoch seconds)."""
        level = logging.INFO if error is None else logging.WARNING
        if not logger.isEnabledFor(level):
            return
        message = (
            f"class={job.job_class} jid={job.jid} queue={job.queue} {outcome} "
            f"duration={duration:.6f}"
        )
        fields: dict[str, object] = {
            "event": "finish",
            "jid": job.jid,
            "job_class": job.job_class,
            "queue": job.queue,
            "outcome": outcome,
            "duration": round(duration, 6),
        }
        if next_attempt is not None:
            wait = max(0.0, next_attempt - time.time())
            at = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(next_attempt))
            message += f" next attempt in {_seconds(wait)}s at {at} UTC"
            fields["next_attempt_in"] = round(wait, 3)
            fields["next_attempt_at"] = at.replace(" ", "T") + "Z"
        if error is not None:
            fields["error_class"] = type(error).__name__
            logger.warning("%s error=%s: %s", message, type(error).__name__, error, extra=fields)
            return
        self._info(message, fields)


def _seconds(wait: float) -> str:
    """17 for Sidekiq's delays, 0.3 for a retry_on's short wait."""
    return f"{wait:.0f}" if wait >= 10 else f"{wait:.1f}".removesuffix(".0")
