"""The outbox table: jobs written in an application's transaction, waiting for the relay.

One row per enqueued job, inserted by `OutboxAdapter` in the enqueuing session's
transaction and deleted by a relay once the job is in Redis:

column         type              meaning
-------------  ----------------  ---------------------------------------------------------
id             BIGINT (INTEGER   insertion order; the relay pushes in this order
               on SQLite) PK
batch          VARCHAR(32)       one value per enqueuing transaction: a relay pushes a
                                 transaction's jobs together, in order, in one Lua call
jid            VARCHAR(64)       the job's jid: the exactly-once key in Redis
queue          VARCHAR(255)      the job's queue (for `sidequest outbox status`)
payload        TEXT              the Sidekiq payload as JSON, without `enqueued_at`
run_at         FLOAT NULL        epoch seconds it is scheduled for; NULL: push at once
unique_digest  VARCHAR(64) NULL  the unique_for lock the push takes, if any
unique_ttl     FLOAT NULL        that lock's TTL, seconds
created_at     FLOAT             epoch seconds of the enqueue (relay lag is measured here)

Applications managing their schema with Alembic create it in a migration (the columns
above, as `create_table` below does); others call `create_table(engine)` once.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    Engine,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)

TABLE_NAME = "sidequest_outbox"

metadata = MetaData()

# BIGINT on PostgreSQL (room for every job ever); SQLite only auto-increments an
# INTEGER PRIMARY KEY.
_ID_TYPE = BigInteger().with_variant(Integer(), "sqlite")

outbox_table = Table(
    TABLE_NAME,
    metadata,
    Column("id", _ID_TYPE, primary_key=True, autoincrement=True),
    Column("batch", String(32), nullable=False),
    Column("jid", String(64), nullable=False),
    Column("queue", String(255), nullable=False),
    Column("payload", Text, nullable=False),
    Column("run_at", Float, nullable=True),
    Column("unique_digest", String(64), nullable=True),
    Column("unique_ttl", Float, nullable=True),
    Column("created_at", Float, nullable=False),
    Index("ix_sidequest_outbox_batch", "batch"),
)


def create_table(engine: Engine) -> None:
    """Create the outbox table if it is missing (for applications without migrations)."""
    metadata.create_all(engine, tables=[outbox_table])
