"""Engines and sessions for SQLite files and PostgreSQL, tuned for several processes.

SQLite is shared by the web tier and several worker processes, so every connection
turns on WAL (readers never wait for the writer) and a busy timeout (a writer waits
for the lock instead of failing at once). pysqlite's own transaction handling is
switched off and each transaction is started by an explicit BEGIN: that makes DDL
transactional (migrations) and lets write transactions start with BEGIN IMMEDIATE,
which takes the write lock up front. A deferred transaction that reads first and
writes later can fail with "database is locked" without waiting at all when another
process committed in between; an immediate one simply waits its turn.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, Connection
from sqlalchemy.orm import Session, sessionmaker

from shop.db.urls import is_sqlite, normalize_database_url

SQLITE_BUSY_TIMEOUT_SECONDS = 30.0
POSTGRES_CONNECT_TIMEOUT_SECONDS = 10
# Execution option that makes a SQLite transaction start with BEGIN IMMEDIATE.
WRITE_TRANSACTION_OPTION = "shop_write_transaction"

SessionFactory = sessionmaker[Session]


def create_engine_for(url: str | URL, *, echo: bool = False) -> Engine:
    """Create an engine for a SQLite file or a PostgreSQL database.

    A SQLite file's parent directory is created when missing. PostgreSQL connections
    are checked before use, so a database restart costs no failed request.

    Args:
        url: Database URL; `postgresql://` is served by psycopg 3.
        echo: Log every SQL statement.

    Raises:
        ValueError: The URL is malformed or names an unsupported backend.
    """
    parsed = normalize_database_url(url) if isinstance(url, str) else url
    if is_sqlite(parsed):
        return _sqlite_engine(parsed, echo=echo)
    return create_engine(
        parsed,
        echo=echo,
        pool_pre_ping=True,
        connect_args={"connect_timeout": POSTGRES_CONNECT_TIMEOUT_SECONDS},
    )


def make_session_factory(engine: Engine) -> SessionFactory:
    """A session factory whose objects stay readable after commit."""
    return sessionmaker(bind=engine, expire_on_commit=False)


def session_factory_for(url: str | URL, *, echo: bool = False) -> SessionFactory:
    """Shorthand for `make_session_factory(create_engine_for(url))`."""
    return make_session_factory(create_engine_for(url, echo=echo))


@contextmanager
def write_session(session_factory: SessionFactory) -> Iterator[Session]:
    """A session in a transaction meant to write, committed when the block ends.

    On SQLite the transaction takes the write lock first (BEGIN IMMEDIATE), waiting
    up to the busy timeout for it; on PostgreSQL it is an ordinary transaction. The
    transaction rolls back if the block raises.
    """
    with session_factory() as session, session.begin():
        session.connection(execution_options={WRITE_TRANSACTION_OPTION: True})
        yield session


@contextmanager
def read_session(session_factory: SessionFactory) -> Iterator[Session]:
    """A session for reading; its transaction ends (rolled back) with the block."""
    with session_factory() as session, session.begin():
        yield session


def _sqlite_engine(url: URL, *, echo: bool) -> Engine:
    database = url.database or ""
    if not database.startswith("file:"):
        Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, echo=echo, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_SECONDS})
    event.listen(engine, "connect", _configure_sqlite_connection)
    event.listen(engine, "begin", _begin_sqlite_transaction)
    return engine


def _configure_sqlite_connection(dbapi_connection: sqlite3.Connection, _record: Any) -> None:
    # None = the driver never issues BEGIN/COMMIT by itself; `_begin_sqlite_transaction` does.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute(f"PRAGMA busy_timeout = {int(SQLITE_BUSY_TIMEOUT_SECONDS * 1000)}")
        cursor.execute("PRAGMA journal_mode = WAL")
        # NORMAL is safe with WAL: a crash of the process loses nothing committed.
        cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.execute("PRAGMA foreign_keys = ON")
    finally:
        cursor.close()


def _begin_sqlite_transaction(connection: Connection) -> None:
    immediate = connection.get_execution_options().get(WRITE_TRANSACTION_OPTION, False)
    connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")
