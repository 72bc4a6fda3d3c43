"""The outbox's writing side: an enqueue adapter that inserts into a session's transaction.

`Job.set(outbox=session).perform_later(...)` and the jobs enqueued inside
`sidequest.outbox.enqueue_in(session)` come here instead of going to Redis. Each job
becomes a row of the outbox table in the session's current transaction: it exists for
the relay only once that transaction commits, and never if it rolls back. The rows of
one transaction share a `batch`, so the relay pushes them together and in order.

After the commit the session wakes the relays of this process; on PostgreSQL the
transaction also notifies the relays of other processes (`wakeup`).
"""

from __future__ import annotations

import time
import uuid
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event, insert, select
from sqlalchemy.orm import Session, SessionTransaction

from sidequest import payload
from sidequest.adapter import DebounceSpec, PushResult, UniqueSpec, scoped
from sidequest.outbox import wakeup
from sidequest.outbox.table import outbox_table
from sidequest.payload import JobDict

# The batch of each open root transaction; a transaction ends, its entry goes with it.
_batches: weakref.WeakKeyDictionary[SessionTransaction, str] = weakref.WeakKeyDictionary()
# Session.info key: this transaction wrote to the outbox (nudge the relays at commit).
_WROTE = "sidequest_outbox_wrote"


class OutboxAdapter:
    """Writes jobs into the outbox table through one SQLAlchemy session."""

    def __init__(self, session: Session):
        self.session = session
        _watch(session)

    @classmethod
    def for_session(cls, session: object) -> OutboxAdapter:
        if not isinstance(session, Session):
            raise TypeError(f"outbox= takes a SQLAlchemy Session, not {session!r}")
        return cls(session)

    def push(
        self,
        job: JobDict,
        *,
        at: float | None = None,
        unique: UniqueSpec | None = None,
        debounce: DebounceSpec | None = None,
    ) -> PushResult:
        if debounce is not None:
            # debounce.lua replaces the pending job in Redis at enqueue time; a row
            # relayed later has no pending job to replace.
            raise ValueError("debounce does not combine with outbox=session")
        self._insert([job], at, unique)
        return PushResult(enqueued=True)

    def push_bulk(self, jobs: list[JobDict], *, at: float | None = None) -> None:
        if jobs:
            self._insert(jobs, at, None)

    def _insert(self, jobs: list[JobDict], at: float | None, unique: UniqueSpec | None) -> None:
        session = self.session
        batch = _batch(session)
        now = time.time()
        rows = []
        for job in jobs:
            # The relay stamps enqueued_at when it pushes, as the Redis client does.
            job.pop("enqueued_at", None)
            rows.append(
                {
                    "batch": batch,
                    "jid": str(job["jid"]),
                    "queue": str(job["queue"]),
                    "payload": payload.encode(job),
                    "run_at": at,
                    "unique_digest": None if unique is None else unique.digest,
                    "unique_ttl": None if unique is None else unique.ttl,
                    "created_at": now,
                }
            )
        session.execute(insert(outbox_table), rows)
        if not session.info.get(_WROTE):
            session.info[_WROTE] = True
            if session.get_bind().dialect.name == "postgresql":
                # Delivered by PostgreSQL at commit, to every LISTENing relay; never on
                # rollback. One per transaction: PostgreSQL would fold repeats anyway.
                session.execute(select(_pg_notify()))


def _pg_notify() -> Any:
    from sqlalchemy import func, literal  # noqa: PLC0415

    return func.pg_notify(literal(wakeup.CHANNEL), literal(""))


def _batch(session: Session) -> str:
    """The batch of the session's current root transaction (begun here if none is)."""
    session.connection()  # begins the transaction when none is open (autobegin)
    transaction = session.get_transaction()
    assert transaction is not None
    batch = _batches.get(transaction)
    if batch is None:
        batch = _batches[transaction] = uuid.uuid4().hex
    return batch


def _watch(session: Session) -> None:
    if not event.contains(session, "after_commit", _after_commit):
        event.listen(session, "after_commit", _after_commit)
        event.listen(session, "after_rollback", _after_rollback)


def _after_commit(session: Session) -> None:
    if session.info.pop(_WROTE, False):
        wakeup.nudge()


def _after_rollback(session: Session) -> None:
    session.info.pop(_WROTE, None)


@contextmanager
def enqueue_in(session: Session) -> Iterator[OutboxAdapter]:
    """Send every enqueue of this thread inside the block to `session`'s outbox.

    with write_session() as session, sidequest.outbox.enqueue_in(session):
        session.add(report)
        ProcessReportJob.perform_later(report.id)      # into the outbox, same transaction
    """
    adapter = OutboxAdapter(session)
    with scoped(adapter):
        yield adapter
