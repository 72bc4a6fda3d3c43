"""Alembic environment for the shop's schema.

`shop.db.migrate` passes a connection that already holds the migration lock. The
alembic CLI passes none: this module then opens one through the same locked path,
for the URL given as `-x database_url=...` or else from the environment.
"""

from __future__ import annotations

from logging.config import fileConfig

from alembic import context
from sqlalchemy.engine import Connection

from shop.db.engine import create_engine_for
from shop.db.migrate import migration_connection
from shop.db.urls import normalize_database_url
from shop.models import Base
from shop.settings import ShopSettings
from sidequest.outbox.table import metadata as outbox_metadata

config = context.config
# The shop's tables, and the sidequest outbox the shop's transactions enqueue through.
target_metadata = [Base.metadata, outbox_metadata]


def database_url() -> str:
    """The URL to migrate when the CLI runs this environment."""
    from_argument = context.get_x_argument(as_dictionary=True).get("database_url")
    return from_argument or ShopSettings.from_env().database_url


def run_on(connection: Connection) -> None:
    """Run the pending migrations on a connection inside the caller's transaction."""
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        # SQLite cannot ALTER most things; batch mode rebuilds the table instead.
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_offline() -> None:
    """Print the SQL for the pending migrations instead of running it (`--sql`)."""
    context.configure(
        url=normalize_database_url(database_url()),
        target_metadata=target_metadata,
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
    )
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    """Run the migrations on the given connection, or on a locked one of our own."""
    given = config.attributes.get("connection")
    if given is not None:
        run_on(given)
        return
    engine = create_engine_for(database_url())
    try:
        with migration_connection(engine) as connection:
            run_on(connection)
    finally:
        engine.dispose()


if config.config_file_name is not None and "connection" not in config.attributes:
    # Only the CLI gets logging set up here; a program calling migrate() keeps its own.
    fileConfig(config.config_file_name, disable_existing_loggers=False)

if context.is_offline_mode():
    run_offline()
else:
    run_online()
