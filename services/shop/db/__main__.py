"""Command line for the shop's database: `python -m shop.db COMMAND`.

    upgrade                 apply pending migrations (safe to run from several processes)
    current                 print the schema revision, or "none"
    seed --orders N         insert N generated orders (see shop.seed)

The database comes from DATABASE_URL (read through ShopSettings.from_env, so its
SQLite default applies); `--database-url` overrides it.
"""

from __future__ import annotations

import argparse
import sys
from datetime import date

from shop.db.engine import session_factory_for
from shop.db.migrate import current_revision, head_revision, migrate
from shop.errors import SettingsError
from shop.seed import DEFAULT_DAYS, seed_orders
from shop.settings import ShopSettings


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the command line."""
    parser = argparse.ArgumentParser(prog="python -m shop.db", description="The shop's database.")
    parser.add_argument("--database-url", help="overrides DATABASE_URL")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("upgrade", help="apply pending migrations")
    commands.add_parser("current", help="print the schema revision")
    seed = commands.add_parser("seed", help="insert generated orders")
    seed.add_argument("--orders", type=int, required=True, help="how many orders")
    seed.add_argument("--days", type=int, default=DEFAULT_DAYS, help="length of the date range")
    seed.add_argument("--seed", type=int, default=0, help="random seed")
    seed.add_argument("--until", type=date.fromisoformat, help="last day, YYYY-MM-DD (today)")
    seed.add_argument("--replace", action="store_true", help="delete existing orders first")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run one command; returns the process exit status."""
    arguments = build_parser().parse_args(argv)
    try:
        url = arguments.database_url or ShopSettings.from_env().database_url
    except SettingsError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if arguments.command == "upgrade":
        migrate(url)
        print(f"schema at revision {head_revision()}")
    elif arguments.command == "current":
        print(current_revision(url) or "none")
    else:
        migrate(url)
        try:
            summary = seed_orders(
                session_factory_for(url),
                arguments.orders,
                days=arguments.days,
                seed=arguments.seed,
                until=arguments.until,
                replace=arguments.replace,
            )
        except ValueError as error:
            print(f"error: {error}", file=sys.stderr)
            return 2
        print(f"inserted {summary.count} orders from {summary.first_day} to {summary.last_day}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
