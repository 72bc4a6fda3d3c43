"""`sidequest batches`: list batches and show one, with its members and callbacks.

    sidequest batches list [--limit N] [--json]
    sidequest batches show BID [--json]

Works from the batch hashes in Redis (batches/store.py), never from job classes, so
it needs no `-r`. An unknown or expired batch exits with status 1; so does a Redis
that cannot be read.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TypeVar

import click

from sidequest.batches.status import BatchStatus
from sidequest.batches.store import BatchStore
from sidequest.cli_common import client_redis_url, talk

T = TypeVar("T")

NOTHING = "-"
_COLUMNS = ("bid", "description", "progress", "total", "pending", "ok", "failed", "dead", "done")


@click.group()
def batches() -> None:
    """List batches and show one."""


@batches.command("list")
@client_redis_url
@click.option("--limit", type=int, default=25, show_default=True, help="newest batches shown")
@click.option("--json", "as_json", is_flag=True, help="print JSON instead of a table")
def list_batches(redis_url: str, limit: int, as_json: bool) -> None:
    """The newest batches: progress, counters, and when they completed."""
    total, statuses = _talk(redis_url, lambda store: store.listing(0, limit))
    if as_json:
        click.echo(json.dumps([status.as_dict() for status in statuses], indent=2))
        return
    if not statuses:
        click.echo("No batches.")
        return
    rows = [_COLUMNS, *(_row(status) for status in statuses)]
    widths = [max(len(row[column]) for row in rows) for column in range(len(_COLUMNS))]
    for row in rows:
        cells = (cell.ljust(width) for cell, width in zip(row, widths, strict=True))
        click.echo("  ".join(cells).rstrip())
    if total > len(statuses):
        click.echo(f"({len(statuses)} of {total} shown; --limit for more)")


@batches.command()
@click.argument("bid")
@client_redis_url
@click.option("--json", "as_json", is_flag=True, help="print JSON instead of text")
def show(bid: str, redis_url: str, as_json: bool) -> None:
    """One batch: counters, times, callbacks, and each member's state."""
    status, members = _talk(redis_url, lambda store: (store.status(bid), store.members(bid)))
    if status is None:
        click.echo(f"error: no batch {bid!r} (never created, or expired)", err=True)
        sys.exit(1)
    named = dict(sorted(members.items()))
    if as_json:
        click.echo(json.dumps({**status.as_dict(), "members": named}, indent=2))
        return
    click.echo(f"batch {status.bid}  {status.description}")
    click.echo(f"  created    {_when(status.created_at)}")
    click.echo(f"  completed  {_when(status.done_at)}")
    if status.parent:
        click.echo(f"  parent     {status.parent}")
    click.echo(
        f"  total {status.total}  pending {status.pending}  succeeded {status.succeeded}  "
        f"failed (retrying) {status.failed}  dead {status.dead}"
    )
    for callback in status.callbacks:
        fired = f"fired {_when(callback.fired_at)}" if callback.fired_at else "not fired"
        click.echo(
            f"  on_{callback.event:<9} {callback.job_class}{json.dumps(callback.args)} "
            f"queue {callback.queue}  {fired}"
        )
    click.echo("  members:")
    for member, state in named.items():
        label = f"batch {member[2:]}" if member.startswith("b:") else member
        click.echo(f"    {label}  {state}")


def _talk(redis_url: str, action: Callable[[BatchStore], T]) -> T:
    """action(store) on the Redis at `redis_url`; exits with a message when it fails."""
    return talk(redis_url, lambda client: action(BatchStore(client)))


def _when(moment: float | None) -> str:
    if moment is None:
        return NOTHING
    return datetime.fromtimestamp(moment, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _row(status: BatchStatus) -> tuple[str, ...]:
    return (
        status.bid,
        status.description or NOTHING,
        f"{status.progress:.0%}",
        str(status.total),
        str(status.pending),
        str(status.succeeded),
        str(status.failed),
        str(status.dead),
        _when(status.done_at),
    )
