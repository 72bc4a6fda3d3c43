"""One structured log line when a job starts and one when it finishes.

Text lines read `class=ProcessReportJob jid=... queue=default start` and
`... succeeded duration=0.012`; with the JSON format (`sidequest.logs`) the same
fields become keys: event, jid, job_class, queue, outcome, duration, error_class.

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
        self, job: JobContext, outcome: str, duration: float, error: BaseException | None
    ) -> None:
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
        if error is not None:
            fields["error_class"] = type(error).__name__
            logger.warning("%s error=%s: %s", message, type(error).__name__, error, extra=fields)
            return
        self._info(message, fields)
