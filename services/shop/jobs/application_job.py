"""The base class of the shop's jobs, and the errors they treat as passing hiccups."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

from shop.errors import TransientMailError
from sidequest import EnqueueError, Job, around_perform

logger = logging.getLogger("shop.jobs")

#: Failures that a later attempt can get past: the database restarting, locked or out
#: of pooled connections, the SMTP server deferring, Redis unreachable while a job
#: enqueues its follow-up.
TRANSIENT_ERRORS: tuple[type[Exception], ...] = (
    OperationalError,
    InterfaceError,
    PoolTimeoutError,
    TransientMailError,
    EnqueueError,
)

#: File-system failures (full disk, a shared volume briefly gone). Mail jobs leave these
#: out: smtplib's errors are OSErrors too, and the transport already sorts those.
FILESYSTEM_ERRORS: tuple[type[Exception], ...] = (OSError,)


class ApplicationJob(Job):
    """What every shop job shares: a log line with the duration of each execution.

    The worker logs starts and finishes as well; this line is the application's own,
    on the `shop.jobs` logger, so it also appears when jobs run inline in tests or in
    the web process.
    """

    @around_perform
    def log_duration(self, block: Callable[[], Any]) -> None:
        """Run the job and log how long it took, whether it succeeded or raised."""
        started = time.perf_counter()
        outcome = "failed"
        try:
            block()
            outcome = "done"
        finally:
            elapsed_ms = (time.perf_counter() - started) * 1000
            logger.info(
                "%s %s %s in %.1f ms (execution %d)",
                self.job_name,
                self.jid,
                outcome,
                elapsed_ms,
                self.executions,
                extra={"job_class": self.job_name, "jid": self.jid, "duration": elapsed_ms / 1000},
            )
