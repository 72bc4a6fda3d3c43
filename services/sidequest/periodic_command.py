"""`sidequest periodic`: list, pause, resume and run the published periodic jobs.

    sidequest periodic list [--json]
    sidequest periodic pause NAME
    sidequest periodic resume NAME
    sidequest periodic run NAME

Works from the definitions the workers published (PeriodicStore), never from job
classes, so it needs no `-r` and runs where the application's code is not installed.
Times are shown in each schedule's zone. An unknown name exits with status 1, naming
the schedules there are; a Redis that cannot be read, with status 1 too.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any, NoReturn, TypeVar
from zoneinfo import ZoneInfo

import click

from sidequest.cli_common import client_redis_url, talk
from sidequest.periodic_jobs.store import PeriodicStore, Status

T = TypeVar("T")

NOTHING = "-"
_COLUMNS = ("name", "schedule", "zone", "next tick", "last tick", "jid", "outcome", "paused")


@click.group()
def periodic() -> None:
    """List, pause, resume and run periodic jobs."""


@periodic.command("list")
@client_redis_url
@click.option("--json", "as_json", is_flag=True, help="print JSON instead of a table")
def list_schedules(redis_url: str, as_json: bool) -> None:
    """Every schedule: its timing and zone, next tick, last tick's job and outcome."""
    now = time.time()
    statuses = _talk(redis_url, lambda store: store.statuses(now))
    if as_json:
        click.echo(json.dumps([_as_dict(status) for status in statuses], indent=2))
        return
    if not statuses:
        click.echo("No periodic jobs are published (a worker publishes its config file's")
        click.echo(":periodic: section and its sidequest.periodic() calls when it starts).")
        return
    rows = [_COLUMNS, *(_row(status) for status in statuses)]
    widths = [max(len(row[column]) for row in rows) for column in range(len(_COLUMNS))]
    for row in rows:
        cells = (cell.ljust(width) for cell, width in zip(row, widths, strict=True))
        click.echo("  ".join(cells).rstrip())


@periodic.command()
@click.argument("name")
@client_redis_url
def pause(name: str, redis_url: str) -> None:
    """Enqueue no tick of NAME until it is resumed."""
    if not _talk(redis_url, lambda store: store.pause(name)):
        _unknown(redis_url, name)
    click.echo(f"paused {name}: its ticks pass without a job until `sidequest periodic resume`")


@periodic.command()
@click.argument("name")
@client_redis_url
def resume(name: str, redis_url: str) -> None:
    """Run NAME again from its next tick (the ticks passed while paused are not made up)."""
    now = time.time()
    if not _talk(redis_url, lambda store: store.resume(name, now)):
        _status(redis_url, name, now)  # exits when there is no such schedule
        click.echo(f"{name} was not paused")
        return
    status = _status(redis_url, name, now)
    click.echo(f"resumed {name}: next tick {_when(status.next_tick, status.schedule.tz)}")


@periodic.command()
@click.argument("name")
@client_redis_url
def run(name: str, redis_url: str) -> None:
    """Enqueue NAME's job now, outside its schedule (its ticks are left as they are)."""
    now = time.time()
    jid = _talk(redis_url, lambda store: store.run_now(name, now))
    if jid is None:
        _unknown(redis_url, name)
    status = _status(redis_url, name, now)
    schedule = status.schedule
    click.echo(f"enqueued {schedule.job_class} {jid} to queue {schedule.queue or 'default'}")


def _talk(redis_url: str, action: Callable[[PeriodicStore], T]) -> T:
    """action(store) on the Redis at `redis_url`; exits with a message when it fails."""
    return talk(redis_url, lambda client: action(PeriodicStore(client)))


def _status(redis_url: str, name: str, now: float) -> Status:
    for status in _talk(redis_url, lambda store: store.statuses(now)):
        if status.schedule.name == name:
            return status
    _unknown(redis_url, name)


def _unknown(redis_url: str, name: str) -> NoReturn:
    names = sorted(_talk(redis_url, lambda store: store.definitions()))
    known = f"published: {', '.join(names)}" if names else "none is published"
    click.echo(f"error: no periodic job is named {name!r} ({known})", err=True)
    sys.exit(1)


def _when(moment: float | None, zone: str) -> str:
    """A time in the schedule's zone, as `2026-03-29 03:00:00 CEST`."""
    if moment is None:
        return NOTHING
    return datetime.fromtimestamp(moment, ZoneInfo(zone)).strftime("%Y-%m-%d %H:%M:%S %Z")


def _outcome(status: Status) -> str:
    if status.jid is None:
        return NOTHING
    return status.outcome or "pending"


def _row(status: Status) -> tuple[str, ...]:
    schedule = status.schedule
    return (
        schedule.name,
        schedule.describe(),
        schedule.tz,
        "paused" if status.paused else _when(status.next_tick, schedule.tz),
        _when(status.tick, schedule.tz),
        status.jid or NOTHING,
        _outcome(status),
        "yes" if status.paused else "no",
    )


def _as_dict(status: Status) -> dict[str, Any]:
    schedule = status.schedule
    return {
        "name": schedule.name,
        "class": schedule.job_class,
        "cron": schedule.cron,
        "every": schedule.every,
        "tz": schedule.tz,
        "args": list(schedule.args),
        "queue": schedule.queue,
        "missed": str(schedule.missed),
        "missed_limit": schedule.missed_limit,
        "paused": status.paused,
        "next_tick": status.next_tick,
        "last_tick": status.tick,
        "last_jid": status.jid,
        "last_enqueued_at": status.enqueued_at,
        "last_outcome": status.outcome,
        "run_jid": status.run_jid,
        "run_at": status.run_at,
        "run_outcome": status.run_outcome,
        "missed_ticks": status.missed,
        "dropped_ticks": status.dropped,
    }
