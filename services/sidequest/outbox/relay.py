"""The relay: moves committed outbox rows into Redis, each job exactly once, then deletes them.

One pass (`Relay.relay_once`), in one database transaction:

1. Claim the oldest rows: `SELECT ... ORDER BY id LIMIT batch_size FOR UPDATE SKIP
   LOCKED` on PostgreSQL, so several relays share the work without waiting on each
   other (SQLite has no row locks: relays there may read the same rows, see 3).
2. Keep whole enqueuing transactions (`batch`): a batch whose first row another relay
   holds is left to that relay; a batch cut off by the LIMIT, or whose last rows
   another relay holds, gets its remaining rows locked (waiting for them), so each
   transaction's jobs reach Redis together, in the order they were written.
3. Push them with one `outbox_push.lua` call. Each job's push is conditional on a new
   marker `sidequest:outbox:<jid>` (SET NX with a TTL) set in the same step: a row
   relayed a second time (its relay died after the push and before its delete
   committed, or two SQLite relays read it at once) pushes nothing.
4. Delete the rows and commit.

A failed pass (Redis or the database unreachable) changes nothing that matters: the
rows stay, and the next pass, after a backoff, relays them. With Redis down the
application keeps committing rows; they go out when Redis is back.

The relay runs as a daemon thread (`start`/`stop`): woken by `wakeup.nudge()` after a
commit in this process, by PostgreSQL notifications from other processes, and else by
a poll every `poll_interval` seconds.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import redis
from sqlalchemy import Engine, delete, func, select
from sqlalchemy.engine import Connection, Row

from sidequest import keys, payload, scripts
from sidequest.middleware import Middleware, ProcessInfo
from sidequest.outbox.table import outbox_table
from sidequest.outbox.wakeup import PostgresListener, Wakeup

logger = logging.getLogger("sidequest.outbox")

DEFAULT_BATCH_SIZE = 100
DEFAULT_POLL_INTERVAL = 0.5
#: How long a pushed job's marker stays: a row relayed again within this time pushes
#: nothing. A relay deletes its rows within milliseconds of the push; this covers a
#: relay that died in between and a database that stays unreachable for a while.
DEFAULT_MARKER_TTL = 3600.0
MAX_BACKOFF = 2.0

#: called after the Redis push and before the delete (tests simulate a crash there)
FaultHook = Callable[[Sequence[Row[Any]]], None]


@dataclass(frozen=True)
class PassResult:
    """What one pass did: rows deleted, jobs pushed, found pushed already, refused as
    duplicates by their unique lock, and each pushed job's lag (commit to push, s)."""

    deleted: int = 0
    pushed: int = 0
    already_pushed: int = 0
    refused: int = 0
    lags: tuple[float, ...] = ()


#: notified after every pass that moved rows (metrics)
Observer = Callable[[PassResult], None]


@dataclass(frozen=True)
class OutboxStatus:
    """The outbox at one moment: rows waiting and the age of the oldest (seconds)."""

    pending: int
    oldest_age: float | None


def status(engine: Engine, now: float | None = None) -> OutboxStatus:
    """How many rows wait in the outbox and how long the oldest has waited."""
    table = outbox_table
    with engine.connect() as conn:
        count, oldest = conn.execute(select(func.count(), func.min(table.c.created_at))).one()
    if oldest is None:
        return OutboxStatus(int(count), None)
    return OutboxStatus(int(count), max(0.0, (time.time() if now is None else now) - oldest))


class Relay:
    """Moves the outbox's committed rows into Redis; see the module docstring."""

    def __init__(
        self,
        engine: Engine,
        client: redis.Redis,
        *,
        batch_size: int = DEFAULT_BATCH_SIZE,
        poll_interval: float = DEFAULT_POLL_INTERVAL,
        marker_ttl: float = DEFAULT_MARKER_TTL,
        listen: bool = True,
        observer: Observer | None = None,
        after_push: FaultHook | None = None,
    ):
        """
        Args:
            engine: The application's database (the one its sessions write the outbox to).
            client: The Redis the jobs go to.
            batch_size: Rows claimed per pass.
            poll_interval: Seconds between looks when nothing woke the relay.
            marker_ttl: Seconds a pushed job's exactly-once marker stays in Redis.
            listen: On PostgreSQL (psycopg 3), LISTEN for other processes' commits.
            observer: Called with every pass that moved rows.
            after_push: Called between the push and the delete (fault injection).
        """
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        self.engine = engine
        self.redis = client
        self.batch_size = batch_size
        self.poll_interval = poll_interval
        self.marker_ttl = marker_ttl
        self.observer = observer
        self.after_push = after_push
        self.wakeup = Wakeup()
        self.listener = (
            PostgresListener(engine, self.wakeup)
            if listen and PostgresListener.supported(engine)
            else None
        )
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- the thread -------------------------------------------------------------------

    def start(self) -> Relay:
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._run, name="sidequest-outbox-relay", daemon=True
            )
            self._thread.start()
            if self.listener is not None:
                self.listener.start()
        return self

    def nudge(self) -> None:
        """Look now (rows were committed)."""
        self.wakeup.set()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop after the current pass; waits up to `timeout` seconds for it."""
        self._stop.set()
        self.wakeup.set()
        if self.listener is not None:
            self.listener.stop()
        if self._thread is not None:
            self._thread.join(timeout)
        if self.listener is not None:
            self.listener.join(timeout)

    def _run(self) -> None:
        failures = 0
        while not self._stop.is_set():
            try:
                result = self.relay_once()
            except Exception as error:  # keep relaying whatever failed
                failures += 1
                # The first failure, then one line in 30, so an outage does not flood the log.
                if failures == 1 or failures % 30 == 0:
                    logger.warning(
                        "outbox relay pass failed (%d in a row), rows stay and are retried: %s",
                        failures,
                        error,
                    )
                self._stop.wait(min(MAX_BACKOFF, 0.05 * 2 ** min(failures, 6)))
                continue
            if failures:
                logger.info("outbox relay works again after %d failed passes", failures)
                failures = 0
            if result.deleted >= self.batch_size:
                continue  # more may be waiting
            self.wakeup.wait(self.poll_interval)

    # -- one pass -----------------------------------------------------------------------

    def relay_once(self) -> PassResult:
        """Claim, push and delete one batch of committed rows; see the module docstring."""
        with self.engine.connect() as conn, conn.begin():
            rows = self._claim(conn)
            if not rows:
                return PassResult()
            replies = self._push(rows)
            if self.after_push is not None:
                self.after_push(rows)
            table = outbox_table
            conn.execute(delete(table).where(table.c.id.in_([row.id for row in rows])))
        now = time.time()
        pushed = [row for row, reply in zip(rows, replies, strict=True) if reply == 1]
        result = PassResult(
            deleted=len(rows),
            pushed=len(pushed),
            already_pushed=sum(1 for reply in replies if reply == 0),
            refused=sum(1 for reply in replies if reply == 2),
            lags=tuple(max(0.0, now - row.created_at) for row in pushed),
        )
        if result.refused:
            logger.info("outbox: %d unique jobs refused as duplicates", result.refused)
        if self.observer is not None:
            self.observer(result)
        return result

    def _claim(self, conn: Connection) -> list[Row[Any]]:
        table = outbox_table
        rows = list(
            conn.execute(
                select(table)
                .order_by(table.c.id)
                .limit(self.batch_size)
                .with_for_update(skip_locked=True)
            )
        )
        if not rows:
            return rows
        batches = list(dict.fromkeys(row.batch for row in rows))
        totals = {
            batch: (int(count), int(first))
            for batch, count, first in conn.execute(
                select(table.c.batch, func.count(), func.min(table.c.id))
                .where(table.c.batch.in_(batches))
                .group_by(table.c.batch)
            )
        }
        kept: list[Row[Any]] = []
        for batch in batches:
            held = [row for row in rows if row.batch == batch]
            count, first = totals.get(batch, (len(held), held[0].id))
            if len(held) >= count:
                kept += held
            elif first < held[0].id:
                continue  # another relay holds its first rows: it relays the whole batch
            else:
                kept += held
                kept += conn.execute(
                    select(table)
                    .where(table.c.batch == batch, table.c.id > held[-1].id)
                    .order_by(table.c.id)
                    .with_for_update()
                )
        kept.sort(key=lambda row: row.id)
        return kept

    def _push(self, rows: Sequence[Row[Any]]) -> list[int]:
        now = time.time()
        script_keys: list[str] = [keys.QUEUES, keys.SCHEDULE]
        args: list[str | int | float | bytes] = [
            max(1, int(self.marker_ttl * 1000)),
            keys.SCHEDULE_WAKEUP_CHANNEL,
        ]
        for row in rows:
            marker = keys.outbox_marker(row.jid)
            if row.run_at is None:
                # The standard parser: the writer may have stored integers past 64 bits.
                job = json.loads(row.payload)
                job["enqueued_at"] = now
                encoded = payload.encode(job)
                target, score = keys.queue(row.queue), ""
            else:
                encoded, target, score = row.payload, keys.SCHEDULE, repr(row.run_at)
            if row.unique_digest:
                lock = keys.unique_lock(row.unique_digest)
                lock_ttl = max(1, int((row.unique_ttl or 0) * 1000))
            else:
                lock, lock_ttl = marker, 0
            script_keys += [marker, target, lock]
            args += [row.queue, encoded, score, lock_ttl]
        replies = scripts.OUTBOX_PUSH(self.redis, script_keys, args)
        return [int(reply) for reply in replies]


class RelayMiddleware(Middleware):
    """Runs a relay for as long as the worker process runs: `run_worker(settings,
    [RelayMiddleware(Relay(engine, client))])` gives every worker process a relay."""

    def __init__(self, relay: Relay):
        self.relay = relay

    def process_started(self, process: ProcessInfo) -> None:
        self.relay.start()

    def process_stopping(self, process: ProcessInfo) -> None:
        self.relay.stop()
