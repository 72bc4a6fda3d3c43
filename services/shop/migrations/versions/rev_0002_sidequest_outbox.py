"""The sidequest outbox: jobs enqueued in the shop's transactions, waiting for the relay.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Spelled out rather than imported from sidequest.outbox.table: a migration is a
# snapshot (the columns are documented there; the test of the models compares them).
BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    """Create `sidequest_outbox` and its batch index."""
    op.create_table(
        "sidequest_outbox",
        sa.Column("id", BIG_ID, primary_key=True, autoincrement=True),
        sa.Column("batch", sa.String(32), nullable=False),
        sa.Column("jid", sa.String(64), nullable=False),
        sa.Column("queue", sa.String(255), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("run_at", sa.Float(), nullable=True),
        sa.Column("unique_digest", sa.String(64), nullable=True),
        sa.Column("unique_ttl", sa.Float(), nullable=True),
        sa.Column("created_at", sa.Float(), nullable=False),
    )
    op.create_index("ix_sidequest_outbox_batch", "sidequest_outbox", ["batch"])


def downgrade() -> None:
    """Drop the outbox (rows still waiting in it are lost)."""
    op.drop_index("ix_sidequest_outbox_batch", table_name="sidequest_outbox")
    op.drop_table("sidequest_outbox")
