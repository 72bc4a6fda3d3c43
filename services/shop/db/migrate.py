"""Running the Alembic migrations shipped in `shop/migrations/`, safely from any process.

Every web and worker process may call `migrate(url)` at start-up. The migration runs
inside one transaction that first takes a database-wide lock, so when several
processes start at once exactly one applies the pending revisions and the others wait,
then find the schema at head and do nothing:

- PostgreSQL: `pg_advisory_xact_lock` on a fixed key, released by the commit. DDL is
  transactional there, so a crash leaves the previous schema intact.
- SQLite: `BEGIN IMMEDIATE` takes the database's write lock; the other processes wait
  on the busy timeout. The engine drives transactions itself (see `shop.db.engine`),
  so the DDL is transactional here too.

Within one process a thread lock serialises callers, because Alembic's `context`
module is process-global. The alembic CLI goes through the same locked path
(`alembic -c services/shop/alembic.ini upgrade head`, see `migrations/env.py`).
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, text
from sqlalchemy.engine import Connection

from shop.db.engine import WRITE_TRANSACTION_OPTION, create_engine_for

PACKAGE_DIR = Path(__file__).resolve().parents[1]
MIGRATIONS_DIR = PACKAGE_DIR / "migrations"
ALEMBIC_INI = PACKAGE_DIR / "alembic.ini"
# A fixed 64-bit key for PostgreSQL's advisory lock, derived from a name so it is stable.
MIGRATION_LOCK_KEY = int.from_bytes(
    hashlib.sha256(b"shop.db.migrate").digest()[:8], "big", signed=True
)

_in_process_lock = threading.Lock()


def alembic_config() -> Config:
    """An Alembic configuration pointing at the packaged migrations, without logging setup."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("path_separator", "os")
    return config


def migrate(url: str, revision: str = "head") -> None:
    """Upgrade the database at `url` to `revision`; a no-op when it is already there.

    Args:
        url: Database URL (plain `postgresql://` works).
        revision: Target revision; the latest by default.

    Raises:
        ValueError: The URL is malformed.
        sqlalchemy.exc.OperationalError: The database cannot be reached.
    """
    engine = create_engine_for(url)
    try:
        with _in_process_lock, migration_connection(engine) as connection:
            config = alembic_config()
            config.attributes["connection"] = connection
            command.upgrade(config, revision)
    finally:
        engine.dispose()


def current_revision(url: str) -> str | None:
    """The revision the database at `url` is at, or None before the first migration."""
    engine = create_engine_for(url)
    try:
        with engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()
    finally:
        engine.dispose()


def head_revision() -> str:
    """The latest revision shipped in the package."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if head is None:
        raise RuntimeError(f"no migrations found in {MIGRATIONS_DIR}")
    return head


@contextmanager
def migration_connection(engine: Engine) -> Iterator[Connection]:
    """A connection in a transaction that holds the database-wide migration lock.

    The transaction commits when the block ends and rolls back if it raises.
    """
    with engine.connect() as plain:
        connection = plain.execution_options(**{WRITE_TRANSACTION_OPTION: True})
        with connection.begin():
            if connection.dialect.name == "postgresql":
                connection.execute(
                    text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY}
                )
            yield connection
