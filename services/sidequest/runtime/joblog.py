"""One structured log line when a job starts and one when it finishes.

Text lines read `class=ProcessReportJob jid=... queue=default start` and
`... succeeded duration=0.012`; with the JSON format (`sidequest.logs`) the same
fields become keys: event, jid, job_class, queue, outcome, duration, error_class.
"""

from __future__ import annotations

import logging

from sidequest.middleware import JobContext

logger = logging.getLogger("sidequest.job")


class JobLog:
    def start(self, job: JobContext) -> None:
        if logger.isEnabledFor(logging.INFO):
            logger.info(
                "class=%s jid=%s queue=%s start",
                job.job_class,
                job.jid,
                job.queue,
                extra={
                    "event": "start",
                    "jid": job.jid,
                    "job_class": job.job_class,
                    "queue": job.queue,
                },
            )

    def finish(
        self, job: JobContext, outcome: str, duration: float, error: BaseException | None
    ) -> None:
        level = logging.INFO if error is None else logging.WARNING
        if not logger.isEnabledFor(level):
            return
        fields = {
            "event": "finish",
            "jid": job.jid,
            "job_class": job.job_class,
            "queue": job.queue,
            "outcome": outcome,
            "duration": round(duration, 6),
        }
        if error is None:
            logger.log(
                level,
                "class=%s jid=%s queue=%s %s duration=%.6f",
                job.job_class,
                job.jid,
                job.queue,
                outcome,
                duration,
                extra=fields,
            )
        else:
            fields["error_class"] = type(error).__name__
            logger.log(
                level,
                "class=%s jid=%s queue=%s %s duration=%.6f error=%s: %s",
                job.job_class,
                job.jid,
                job.queue,
                outcome,
                duration,
                type(error).__name__,
                error,
                extra=fields,
            )
