"""`sidequest outbox`: look at the outbox table, or relay it from a process of its own.

    sidequest outbox status [--json]     rows waiting and the oldest one's age
    sidequest outbox relay               run a relay until SIGTERM/SIGINT

Both take --database-url (else DATABASE_URL): the application's database, where its
sessions write the outbox. A `postgresql://` URL is served by psycopg 3. SQLAlchemy is
imported only when a command runs, so `sidequest --help` needs no outbox extra.
"""

from __future__ import annotations

import json
import signal
import sys
import threading
from typing import Any

import click

from sidequest.cli_common import client_redis_url, or_exit, url_source
from sidequest.connection import connect

database_url_option = click.option(
    "--database-url",
    envvar="DATABASE_URL",
    required=True,
    show_envvar=True,
    help="the application's database (SQLAlchemy URL)",
)


@click.group()
def outbox() -> None:
    """The transactional outbox: jobs committed with the application's data."""


@outbox.command("status")
@database_url_option
@click.option("--json", "as_json", is_flag=True, help="print JSON")
def show_status(database_url: str, as_json: bool) -> None:
    """How many jobs wait in the outbox for a relay, and for how long the oldest has."""
    from sqlalchemy.exc import SQLAlchemyError  # noqa: PLC0415

    from sidequest.outbox.relay import status  # noqa: PLC0415

    engine = engine_for(database_url)
    try:
        found = status(engine)
    except SQLAlchemyError as error:
        click.echo(f"error: cannot read the outbox: {error}", err=True)
        sys.exit(1)
    finally:
        engine.dispose()
    if as_json:
        click.echo(json.dumps({"pending": found.pending, "oldest_age": found.oldest_age}))
        return
    click.echo(f"pending: {found.pending}")
    age = "-" if found.oldest_age is None else f"{found.oldest_age:.3f}s"
    click.echo(f"oldest:  {age}")


@outbox.command("relay")
@database_url_option
@client_redis_url
@click.option("--poll-interval", type=float, default=0.5, show_default=True)
def run_relay(database_url: str, redis_url: str, poll_interval: float) -> None:
    """Relay the outbox to Redis until SIGTERM or SIGINT (workers relay it anyway)."""
    from sidequest.outbox.relay import Relay  # noqa: PLC0415

    client = or_exit(lambda: connect(redis_url, source=url_source()))
    engine = engine_for(database_url)
    stopped = threading.Event()

    def stop(_signum: int, _frame: Any) -> None:
        stopped.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    relay = Relay(engine, client, poll_interval=poll_interval).start()
    click.echo("relaying the outbox; SIGTERM or Ctrl-C stops", err=True)
    stopped.wait()
    relay.stop()
    engine.dispose()


def engine_for(url: str) -> Any:
    """An engine for `url`; plain `postgresql://` goes through psycopg 3."""
    from sqlalchemy import create_engine  # noqa: PLC0415
    from sqlalchemy.engine import make_url  # noqa: PLC0415
    from sqlalchemy.exc import ArgumentError, NoSuchModuleError  # noqa: PLC0415

    try:
        parsed = make_url(url)
        if parsed.drivername in ("postgres", "postgresql"):
            parsed = parsed.set(drivername="postgresql+psycopg")
        return create_engine(parsed, pool_pre_ping=True)
    except (ArgumentError, NoSuchModuleError) as error:
        raise click.BadParameter(
            f"not a database URL SQLAlchemy can use: {error}", param_hint="--database-url"
        ) from None
