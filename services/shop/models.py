"""The shop's tables as SQLAlchemy 2 models.

The migrations in `shop/migrations/` create and change these tables; the models only
describe them to the ORM. Timestamps are stored as UTC without a zone (see
`UtcDateTime`) so that date arithmetic in SQL means the same on SQLite and PostgreSQL.
"""

from __future__ import annotations

import enum
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Numeric,
    String,
    Table,
    Text,
    TypeDecorator,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

# Stable constraint names, so later migrations can refer to them on both backends.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

MONEY = Numeric(12, 2)
# SQLite only auto-increments a column declared exactly INTEGER PRIMARY KEY.
BIG_ID = BigInteger().with_variant(Integer(), "sqlite")
JSON_DOCUMENT = JSON().with_variant(JSONB(), "postgresql")


def utcnow() -> datetime:
    """The current time as an aware UTC datetime."""
    return datetime.now(UTC)


def table_of(model: type[Base]) -> Table:
    """The Core table behind a model, typed as a Table for bulk statements."""
    table = model.__table__
    if not isinstance(table, Table):  # pragma: no cover - every model maps one table
        raise TypeError(f"{model.__name__} is not mapped to a table")
    return table


class UtcDateTime(TypeDecorator[datetime]):
    """An aware datetime stored as naive UTC.

    PostgreSQL's `timestamptz` would make `date(created_at)` depend on the session's
    time zone and SQLite has no zones at all; naive UTC behaves the same on both.
    Naive datetimes are refused on the way in because their zone is unknown.
    """

    impl = DateTime(timezone=False)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: pass an aware datetime (UTC)")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


class Base(DeclarativeBase):
    """Declarative base with the shared naming convention."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: UtcDateTime(), Decimal: MONEY}


class Order(Base):
    """One order line: a customer bought `quantity` of `product` for `amount`."""

    __tablename__ = "orders"
    __table_args__ = (
        CheckConstraint("quantity > 0", name="quantity_positive"),
        CheckConstraint("amount >= 0", name="amount_not_negative"),
        # Reports filter on a date range and group by day or product.
        Index("ix_orders_created_at", "created_at"),
        Index("ix_orders_product_created_at", "product", "created_at"),
    )

    id: Mapped[int] = mapped_column(BIG_ID, primary_key=True, autoincrement=True)
    customer: Mapped[str] = mapped_column(String(100))
    product: Mapped[str] = mapped_column(String(100))
    quantity: Mapped[int] = mapped_column(Integer)
    amount: Mapped[Decimal] = mapped_column(MONEY)
    created_at: Mapped[datetime]


class ReportStatus(enum.StrEnum):
    """Where a report is in its life."""

    PENDING = "pending"
    PROCESSING = "processing"
    DONE = "done"
    FAILED = "failed"


class Report(Base):
    """A requested report and the state of its build."""

    __tablename__ = "reports"
    __table_args__ = (
        CheckConstraint(
            "status IN ('pending', 'processing', 'done', 'failed')", name="status_known"
        ),
        Index("ix_reports_created_at", "created_at"),
        Index("ix_reports_enqueue_failed", "enqueue_failed"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    kind: Mapped[str] = mapped_column(String(50))
    parameters: Mapped[dict[str, Any]] = mapped_column(JSON_DOCUMENT)
    status: Mapped[str] = mapped_column(String(16), default=ReportStatus.PENDING.value)
    error: Mapped[str | None] = mapped_column(Text)
    result_location: Mapped[str | None] = mapped_column(String(255))
    notify_email: Mapped[str | None] = mapped_column(String(254))
    job_id: Mapped[str | None] = mapped_column(String(64))
    enqueue_failed: Mapped[bool] = mapped_column(Boolean, default=False)
    enqueue_error: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime]
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]


class User(Base):
    """A signed-up customer of the shop."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(BIG_ID, primary_key=True, autoincrement=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime]


class Preference(Base):
    """A user's settings; one row per user, created with defaults after signup."""

    __tablename__ = "preferences"

    user_id: Mapped[int] = mapped_column(
        BIG_ID, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    report_emails: Mapped[bool] = mapped_column(Boolean)
    weekly_digest: Mapped[bool] = mapped_column(Boolean)
    timezone: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]


class MailDelivery(Base):
    """The record that makes a mail delivery happen at most once per key.

    `claimed_at` and `claim_token` mark an attempt in flight; `sent_at` is set once
    the SMTP server accepted the message.
    """

    __tablename__ = "mail_deliveries"

    id: Mapped[int] = mapped_column(BIG_ID, primary_key=True, autoincrement=True)
    delivery_key: Mapped[str] = mapped_column(String(200), unique=True)
    recipient: Mapped[str] = mapped_column(String(254))
    subject: Mapped[str] = mapped_column(String(255))
    message_id: Mapped[str] = mapped_column(String(255))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    claim_token: Mapped[str | None] = mapped_column(String(32))
    claimed_at: Mapped[datetime | None]
    sent_at: Mapped[datetime | None]
    created_at: Mapped[datetime]
