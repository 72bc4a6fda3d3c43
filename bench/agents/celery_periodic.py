"""Celery beat's side of the periodic benchmark: SCHEDULES entries every 1.0 s.

Each `celery beat` instance keeps its own schedule file (``-s``), as two beats on two
hosts would; a beat does not know its tick's time, so the job records none.
"""

from __future__ import annotations

import os

from celery import Celery  # type: ignore[import-not-found]

from bench.agents import periodic

app = Celery("bench", broker=os.environ["REDIS_URL"])
app.conf.task_default_queue = "default"
app.conf.broker_connection_retry_on_startup = True
app.conf.beat_schedule = {
    f"bench_{index}": {"task": "periodic", "schedule": 1.0, "args": (index,)}
    for index in range(periodic.schedules())
}


def _periodic(schedule: int) -> None:
    periodic.ran(schedule)


task = app.task(name="periodic")(_periodic)
