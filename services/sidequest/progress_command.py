"""`sidequest progress JID [--json]`: the progress a job reported (`self.progress`).

Exits with status 1 when the job reported none (or it expired, an hour after the job's
last write) or Redis cannot be read.
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime

import click

from sidequest.api.progress import progress as read_progress
from sidequest.cli_common import client_redis_url, talk


@click.command("progress")
@click.argument("jid")
@client_redis_url
@click.option("--json", "as_json", is_flag=True, help="print JSON")
def progress(jid: str, redis_url: str, as_json: bool) -> None:
    """The progress job JID reported: done of total, its message, and how it ended."""
    found = talk(redis_url, lambda client: read_progress(jid, client))
    if found is None:
        click.echo(f"job {jid} reported no progress (or it expired)", err=True)
        sys.exit(1)
    if as_json:
        click.echo(json.dumps({"jid": jid, **found.as_dict()}))
        return
    total = "?" if found.total is None else f"{found.total:g}"
    percent = "" if found.percent is None else f" ({found.percent}%)"
    click.echo(f"{found.done:g} of {total}{percent}")
    if found.message:
        click.echo(found.message)
    if found.finished_at is not None:
        ended = datetime.fromtimestamp(found.finished_at, UTC).isoformat(timespec="seconds")
        click.echo(f"ended {ended}: {found.outcome}")
