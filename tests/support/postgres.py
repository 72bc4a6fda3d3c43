"""Throwaway PostgreSQL databases on the server the machine runs (127.0.0.1:5432).

Each test (or session) creates a database with a unique name and drops it afterwards,
so tests never share or leave behind data. The server comes from TEST_POSTGRES_URL
(default postgresql://postgres@127.0.0.1:5432/postgres, trust auth). An unreachable
server is an error, not a skip: a skipped suite would hide that PostgreSQL was never
tested.
"""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
from psycopg import sql
from sqlalchemy.engine import make_url

ADMIN_URL_VARIABLE = "TEST_POSTGRES_URL"
DEFAULT_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
_NAME_PREFIX = re.compile(r"[a-z][a-z0-9_]{0,30}")


def admin_url() -> str:
    """URL of a database on the test server that we may connect to to create others."""
    return os.environ.get(ADMIN_URL_VARIABLE) or DEFAULT_ADMIN_URL


class PostgresDatabase:
    """One database created for a test, with its SQLAlchemy-style URL."""

    def __init__(self, prefix: str = "test", *, server_url: str | None = None) -> None:
        """Pick a unique name; nothing is created until `create()`.

        Args:
            prefix: Start of the database name (lowercase letters, digits, _).
            server_url: Admin URL of the server; `admin_url()` when omitted.
        """
        if not _NAME_PREFIX.fullmatch(prefix):
            raise ValueError(f"prefix must match {_NAME_PREFIX.pattern}, got {prefix!r}")
        self.server_url = server_url or admin_url()
        self.name = f"{prefix}_{os.getpid()}_{uuid.uuid4().hex[:12]}"
        self.url = (
            make_url(self.server_url).set(database=self.name).render_as_string(hide_password=False)
        )

    def create(self) -> PostgresDatabase:
        """Create the database.

        Raises:
            RuntimeError: The server cannot be reached; says how to point at another.
        """
        try:
            with self._admin() as connection:
                connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(self.name)))
        except psycopg.OperationalError as error:
            raise RuntimeError(
                f"cannot reach PostgreSQL at {self.server_url} ({error}); start it, or set "
                f"{ADMIN_URL_VARIABLE} to a server where the tests may create databases"
            ) from error
        return self

    def drop(self) -> None:
        """Drop the database, disconnecting anyone still connected to it."""
        with self._admin() as connection:
            connection.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(self.name))
            )

    def exists(self) -> bool:
        """Whether the database currently exists on the server."""
        with self._admin() as connection:
            row = connection.execute(
                "SELECT 1 FROM pg_database WHERE datname = %s", (self.name,)
            ).fetchone()
            return row is not None

    def _admin(self) -> psycopg.Connection[tuple[object, ...]]:
        conninfo = (
            make_url(self.server_url)
            .set(drivername="postgresql")
            .render_as_string(hide_password=False)
        )
        # CREATE/DROP DATABASE cannot run inside a transaction.
        return psycopg.connect(conninfo, autocommit=True, connect_timeout=5)


@contextmanager
def temporary_postgres_database(prefix: str = "test") -> Iterator[PostgresDatabase]:
    """A database that exists for the duration of a `with` block."""
    database = PostgresDatabase(prefix).create()
    try:
        yield database
    finally:
        database.drop()
