"""`sidequest queues` and `sidequest cancel`: pausing queues and cancelling jobs.

    sidequest queues list [--json]
    sidequest queues pause QUEUE
    sidequest queues resume QUEUE
    sidequest cancel JID

A queue name that is empty or holds spaces or control characters, and a malformed
jid, are usage errors (status 2). A jid found nowhere (not queued, scheduled,
retrying or in a worker) exits with status 1 and says so; its cancel mark is kept
anyway, since the job may have been between two places at that moment. A Redis that
cannot be used exits with status 1. Pausing a queue that does not exist yet is
allowed: its jobs wait from their first enqueue.
"""

from __future__ import annotations

import json
import sys

import click
import redis

from sidequest.api.cancelling import cancel as cancel_job
from sidequest.api.cancelling import checked_jid, describe
from sidequest.api.pausing import QueuePauses, checked_queue_name
from sidequest.api.queue_summary import queue_summaries
from sidequest.cli_common import client_redis_url, talk


def _queue_argument(name: str) -> str:
    try:
        return checked_queue_name(name)
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="QUEUE") from None


@click.group()
def queues() -> None:
    """List, pause and resume queues."""


@queues.command("list")
@client_redis_url
@click.option("--json", "as_json", is_flag=True, help="print JSON instead of a table")
def list_queues(redis_url: str, as_json: bool) -> None:
    """Every queue: size, latency, and whether it is paused."""

    def read(client: redis.Redis) -> tuple[list[tuple[str, int, float]], set[str]]:
        summaries = [(q.name, q.size, q.latency) for q in queue_summaries(client)]
        return summaries, set(QueuePauses(client).paused())

    summaries, paused = talk(redis_url, read)
    # A paused queue nobody enqueued to yet is listed too: its pause waits for it.
    names = {name for name, _, _ in summaries}
    rows = summaries + [(name, 0, 0.0) for name in sorted(paused - names)]
    if as_json:
        document = [
            {"name": name, "size": size, "latency": latency, "paused": name in paused}
            for name, size, latency in rows
        ]
        click.echo(json.dumps(document, indent=2))
        return
    click.echo(f"{'Queue':<24} {'Size':>10} {'Latency':>10}  State")
    for name, size, latency in rows:
        state = "paused" if name in paused else "running"
        click.echo(f"{name:<24} {size:>10} {latency:>9.2f}s  {state}")


@queues.command()
@click.argument("queue")
@client_redis_url
def pause(queue: str, redis_url: str) -> None:
    """Stop every worker fetching from QUEUE; running jobs finish, enqueues still land."""
    name = _queue_argument(queue)
    changed = talk(redis_url, lambda client: QueuePauses(client).pause(name))
    if changed:
        click.echo(f"paused {name}: no worker fetches from it until `sidequest queues resume`")
    else:
        click.echo(f"{name} was paused already")


@queues.command()
@click.argument("queue")
@client_redis_url
def resume(queue: str, redis_url: str) -> None:
    """Let workers fetch from QUEUE again, at once."""
    name = _queue_argument(queue)
    changed = talk(redis_url, lambda client: QueuePauses(client).resume(name))
    if changed:
        click.echo(f"resumed {name}")
    else:
        click.echo(f"{name} was not paused")


@click.command()
@click.argument("jid")
@client_redis_url
def cancel(jid: str, redis_url: str) -> None:
    """Cancel job JID: remove it if it waits, stop it if it runs; it never runs again."""
    try:
        checked_jid(jid)
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="JID") from None
    result = talk(redis_url, lambda client: cancel_job(client, jid))
    if not result.found:
        click.echo(f"error: {describe(result)}", err=True)
        click.echo(
            "(a mark keeps it from ever starting, should it be on its way somewhere)", err=True
        )
        sys.exit(1)
    click.echo(describe(result))
