"""The sql workload's database: created on the machine's PostgreSQL for one run, then dropped.

The server is the one already running on loopback (127.0.0.1:5432, trust
authentication, user postgres), named by ``BENCH_PG_URL`` if set; the suite
refuses any other host. It creates ``sidequest_bench_<pid>`` with one table,
``bench_items`` (10,000 rows, primary key on ``id``), which every system's
job reads one row of by primary key. A database left behind by a run that was
killed (its pid gone) is dropped by the next run.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
PREFIX = "sidequest_bench_"
LOOPBACK = frozenset({"127.0.0.1", "::1", "localhost"})
# bench/agents/workload.py (and sidekiq_jobs.rb) read ids 1..ROWS.
ROWS = 10_000


class Database:
    def __init__(self, url: str | None = None) -> None:
        self.admin = url or os.environ.get("BENCH_PG_URL", DEFAULT_URL)
        host = str(conninfo_to_dict(self.admin).get("host", ""))
        if host not in LOOPBACK:
            raise RuntimeError(f"the sql workload uses a loopback PostgreSQL only, not {host!r}")
        self.name = f"{PREFIX}{os.getpid()}"
        self.created = False

    @property
    def dsn(self) -> str:
        """What the workers connect to: the admin URL with the benchmark's database."""
        return make_conninfo(self.admin, dbname=self.name)

    def _admin(self) -> psycopg.Connection[Any]:
        # CREATE/DROP DATABASE cannot run inside a transaction.
        return psycopg.connect(self.admin, autocommit=True, connect_timeout=10)

    def create(self) -> None:
        with self._admin() as conn:
            self._drop_stale(conn)
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(self.name)))
        self.created = True
        with psycopg.connect(self.dsn, autocommit=True) as conn:
            conn.execute(
                "CREATE TABLE bench_items (id integer PRIMARY KEY, name text NOT NULL, "
                "value integer NOT NULL)"
            )
            conn.execute(
                "INSERT INTO bench_items SELECT i, 'item ' || i, mod(i * 7, 1000) "
                "FROM generate_series(1, %s) AS i",
                (ROWS,),
            )
            # Statistics and the visibility map now, so the planner picks the index
            # and no autovacuum runs in the middle of a measurement.
            conn.execute("VACUUM ANALYZE bench_items")

    def _drop_stale(self, conn: psycopg.Connection[Any]) -> None:
        rows = conn.execute(
            "SELECT datname FROM pg_database WHERE datname LIKE %s", (PREFIX + "%",)
        ).fetchall()
        for (name,) in rows:
            owner = name.removeprefix(PREFIX)
            if owner.isdigit() and not Path(f"/proc/{owner}").exists():
                self._drop(conn, name)

    @staticmethod
    def _drop(conn: psycopg.Connection[Any], name: str) -> None:
        # FORCE: a worker killed mid-query may leave a backend behind for a moment.
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )

    def drop(self) -> None:
        if not self.created:
            return
        with self._admin() as conn:
            self._drop(conn, self.name)
        self.created = False
