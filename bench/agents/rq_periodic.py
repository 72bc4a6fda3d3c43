"""RQ's side of the periodic benchmark: the job, and the cron config `rq cron` loads.

RQ's own cron scheduler (rq.cron, `rq cron CONFIG`): SCHEDULES jobs with the
croniter expression ``* * * * * *`` (six fields: the last is seconds), so every
second on the second. An `rq cron` process does not tell the job its tick.
"""

from __future__ import annotations

from rq import cron  # type: ignore[import-not-found]

from bench.agents import periodic


def periodic_job(schedule: int) -> None:
    periodic.ran(schedule)


for index in range(periodic.schedules()):
    cron.register(periodic_job, "default", args=(index,), cron="* * * * * *", name=f"bench_{index}")
