"""Transactional enqueue: jobs written in the application's database transaction.

    from sidequest.outbox import Relay, enqueue_in

    with Session(engine) as session, session.begin():
        session.add(report)
        ProcessReportJob.set(outbox=session).perform_later(report.id)
    # or: every enqueue inside the block
    with Session(engine) as session, session.begin(), enqueue_in(session):
        session.add(user)
        SendWelcomeEmailJob.perform_later(user.id)

    Relay(engine, redis_client).start()      # in every worker process (and the web tier)

The job is a row of the `sidequest_outbox` table (`table`) in the session's
transaction: committed with the application's data, or rolled back with it. A relay
moves committed rows into Redis, exactly once each (a marker per jid, set in the same
Lua call as the push), in the order each transaction wrote them, and deletes them. From
there on the job is delivered at least once, as any job. Redis may be down while the
application commits: the rows wait, and the relay pushes them when Redis is back.

Needs SQLAlchemy 2 (`pip install 'sidequest[outbox]'`); SQLite and PostgreSQL.
"""

from sidequest.outbox.relay import (
    DEFAULT_BATCH_SIZE,
    DEFAULT_MARKER_TTL,
    DEFAULT_POLL_INTERVAL,
    OutboxStatus,
    PassResult,
    Relay,
    RelayMiddleware,
    status,
)
from sidequest.outbox.table import TABLE_NAME, create_table, metadata, outbox_table
from sidequest.outbox.wakeup import CHANNEL, nudge
from sidequest.outbox.writer import OutboxAdapter, enqueue_in

__all__ = [
    "CHANNEL",
    "DEFAULT_BATCH_SIZE",
    "DEFAULT_MARKER_TTL",
    "DEFAULT_POLL_INTERVAL",
    "TABLE_NAME",
    "OutboxAdapter",
    "OutboxStatus",
    "PassResult",
    "Relay",
    "RelayMiddleware",
    "create_table",
    "enqueue_in",
    "metadata",
    "nudge",
    "outbox_table",
    "status",
]
