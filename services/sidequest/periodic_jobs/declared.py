"""Schedules declared in code, the equivalent of the config file's `:periodic:` entries:

    sidequest.periodic("nightly_report", NightlyReportJob, cron="30 2 * * *",
                       tz="Europe/Berlin", args=[7], missed="one")

A worker publishes these together with its config file's (runtime/periodic.py). The
job may be given as a class (its `job_name` is used) or as any class name, Ruby's too.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sidequest.errors import ConfigError
from sidequest.periodic_jobs.schedule import Schedule, parse

_declared: dict[str, Schedule] = {}


def define(
    name: str,
    job: type | str,
    *,
    cron: str | None = None,
    every: int | None = None,
    tz: str = "UTC",
    args: Sequence[Any] = (),
    queue: str | None = None,
    missed: str = "one",
    missed_limit: int = 10,
) -> Schedule:
    """Declare a periodic job; ConfigError when a setting is invalid or the name is taken."""
    if name in _declared:
        raise ConfigError(f"periodic schedule {name!r} is declared twice")
    job_class = job if isinstance(job, str) else str(getattr(job, "job_name", job.__name__))
    settings: dict[str, object] = {
        "class": job_class,
        "tz": tz,
        "args": list(args),
        "missed": missed,
        "missed_limit": missed_limit,
    }
    for key, value in (("cron", cron), ("every", every), ("queue", queue)):
        if value is not None:
            settings[key] = value
    schedule = parse(name, settings)
    _declared[name] = schedule
    return schedule


def declared() -> tuple[Schedule, ...]:
    return tuple(_declared.values())


def clear() -> None:
    """Forget every declaration (tests)."""
    _declared.clear()
