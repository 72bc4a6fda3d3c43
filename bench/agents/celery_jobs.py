"""Celery app and task for the benchmark; the worker loads it with ``-A``.

Defaults everywhere except the queue name and the absence of a result backend
(nothing in the benchmark reads results, and no other system stores them for a
function returning None, except arq and RQ, which store by default).
"""

from __future__ import annotations

import os

from celery import Celery  # type: ignore[import-not-found]

from bench.agents.workload import job

app = Celery("bench", broker=os.environ["REDIS_URL"])
app.conf.task_default_queue = "default"
# Silences a deprecation warning at boot; retrying at startup is harmless here.
app.conf.broker_connection_retry_on_startup = True


def _noop(n: int) -> None:
    job(n)


noop = app.task(name="noop")(_noop)
