"""Periodic jobs: each tick of each schedule enqueued exactly once, by whichever worker
process claims it first, with no leader.

Pure (no I/O):
    schedule.py    the Schedule value, parsed from the config file or `define`, validated
    ticks.py       when a schedule ticks: `every` aligned to the epoch, cron via cronsim
    missed.py      which due ticks to enqueue: on time, and missed ones by the policy
    payloads.py    the Sidekiq-format payload of a tick, with `periodic_at`
    declared.py    schedules declared in code
    resolution.py  the job class's queue and retry as the schedule's defaults
Redis:
    keys.py        the keys
    scripts.py     periodic_claim.lua, periodic_resume.lua, periodic_outcome.lua
    store.py       publish definitions, claim ticks; list, pause, resume, run now
    ticker.py      PeriodicTicker: `due(now)` and `fire(now)` for the scheduler thread
    outcomes.py    PeriodicOutcomes: the worker middleware noting how periodic jobs ended

The worker publishes the schedules and runs the ticker in sidequest/runtime/periodic.py;
`sidequest periodic` (periodic_command.py) and the dashboard's Periodic page use store.py.

Only the pure modules are imported here, so that declaring a schedule in code needs no
Redis client (as `import sidequest` does not).
"""

from __future__ import annotations

from sidequest.periodic_jobs.declared import define
from sidequest.periodic_jobs.missed import Missed
from sidequest.periodic_jobs.schedule import Schedule, parse, parse_section

__all__ = [
    "Missed",
    "Schedule",
    "define",
    "parse",
    "parse_section",
]
