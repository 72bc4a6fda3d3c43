"""What every system's periodic benchmark job records: which schedule, which tick, when.

The harness (bench/figures/periodic.py) starts two scheduler instances of a system
with SCHEDULES periodic schedules (BENCH_PERIODIC_SCHEDULES), each firing the same job
with the schedule's index as its argument. The job appends one record
(bench/agents/record.py) whose integer packs the schedule's index and the tick the
run was enqueued for, in whole seconds, where the system tells the job (sidequest's
`periodic_at`, arq's cron job id); 0 where it does not (Celery beat, RQ cron, Huey),
and the harness then takes the tick the start time falls in.
"""

from __future__ import annotations

import os
import time

from bench.agents.record import record

SCHEDULES_VAR = "BENCH_PERIODIC_SCHEDULES"
#: ticks are epoch seconds (10 digits): the schedule's index goes above them
TICK_SPAN = 10**10


def schedules() -> int:
    return int(os.environ.get(SCHEDULES_VAR, "5"))


def ran(schedule: int, tick: int = 0) -> None:
    """Record one run of `schedule` for `tick` (0: unknown to the job), started now."""
    record(schedule * TICK_SPAN + tick, time.time())
