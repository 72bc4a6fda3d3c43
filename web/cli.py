"""`flask --app web ...` commands: seeding orders, and enqueuing reports left behind.

flask --app web seed --orders 100000 [--days 365] [--seed 0] [--until YYYY-MM-DD] [--replace]
flask --app web enqueue-pending
"""

from __future__ import annotations

from datetime import date, datetime

import click
from flask import Flask
from flask.cli import with_appcontext

from shop.db import migrate
from shop.reports import reports_awaiting_enqueue
from shop.seed import DEFAULT_DAYS, MAX_SEED_COUNT, seed_orders
from sidequest.errors import EnqueueError
from web.services import services
from web.workflows import ReportNotEnqueued, enqueue_again


def register_commands(app: Flask) -> None:
    """Add the commands to the app's `flask` CLI."""
    app.cli.add_command(seed)
    app.cli.add_command(enqueue_pending)


@click.command("seed")
@click.option(
    "--orders",
    type=click.IntRange(0, MAX_SEED_COUNT),
    required=True,
    help="how many orders to generate",
)
@click.option(
    "--days", type=click.IntRange(1, 36_600), default=DEFAULT_DAYS, show_default=True,
    help="length of the date range",
)  # fmt: skip
@click.option("--seed", "random_seed", type=int, default=0, show_default=True, help="random seed")
@click.option("--until", type=click.DateTime(["%Y-%m-%d"]), help="last day (default: today)")
@click.option("--replace", is_flag=True, help="delete the existing orders first")
@with_appcontext
def seed(orders: int, days: int, random_seed: int, until: datetime | None, replace: bool) -> None:
    """Insert ORDERS generated orders (a realistic, reproducible data set)."""
    shop = services()
    migrate(shop.settings.shop.database_url)
    last_day: date | None = until.date() if until is not None else None
    summary = seed_orders(
        shop.session_factory, orders, days=days, seed=random_seed, until=last_day, replace=replace
    )
    click.echo(f"inserted {summary.count} orders from {summary.first_day} to {summary.last_day}")


@click.command("enqueue-pending")
@with_appcontext
def enqueue_pending() -> None:
    """Enqueue the jobs of reports whose enqueue failed or never happened."""
    shop = services()
    waiting = reports_awaiting_enqueue(shop.session_factory)
    enqueued = 0
    for report in waiting:
        try:
            enqueue_again(shop.session_factory, report.id)
        except ReportNotEnqueued as failure:
            raise click.ClickException(
                f"Redis refused the job of report {report.id} ({failure.cause}); "
                f"{enqueued} of {len(waiting)} enqueued"
            ) from None
        except EnqueueError as error:  # pragma: no cover - wrapped by enqueue_again
            raise click.ClickException(str(error)) from None
        enqueued += 1
    click.echo(f"enqueued {enqueued} report job(s)")
