"""The SQL behind each report kind: one GROUP BY query over the date range.

All summing happens in the database; Python only touches the grouped rows (at most
one per day or per product). Money comes back as Decimal rounded to cents: SQLite
sums NUMERIC as floating point, and rounding a sum of cent amounts of any realistic
size back to cents recovers the exact total.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import Date, Select, func, select
from sqlalchemy.orm import Session

from shop.models import Order
from shop.reports.kinds import ReportKind
from shop.reports.request import ReportRequest

CENT = Decimal("0.01")


@dataclass(frozen=True)
class SalesRow:
    """Sales of one group (a day or a product).

    Attributes:
        label: The group: a YYYY-MM-DD day or a product name.
        orders: Number of orders.
        units: Units sold.
        revenue: Money taken, in cents precision.
    """

    label: str
    orders: int
    units: int
    revenue: Decimal


@dataclass(frozen=True)
class SalesTable:
    """The result of a report query.

    Attributes:
        kind: Which report this is.
        label_header: Column name of the group label ("day" or "product").
        rows: One row per group, in report order.
    """

    kind: ReportKind
    label_header: str
    rows: tuple[SalesRow, ...]

    @property
    def total_orders(self) -> int:
        """Orders over all rows."""
        return sum(row.orders for row in self.rows)

    @property
    def total_units(self) -> int:
        """Units over all rows."""
        return sum(row.units for row in self.rows)

    @property
    def total_revenue(self) -> Decimal:
        """Revenue over all rows."""
        return sum((row.revenue for row in self.rows), Decimal("0.00"))


def run_report_query(session: Session, request: ReportRequest) -> SalesTable:
    """Aggregate the orders in the request's range the way its kind asks."""
    if request.kind is ReportKind.SALES_BY_DAY:
        return sales_by_day(session, request.start, request.end)
    return sales_by_product(session, request.start, request.end)


def sales_by_day(session: Session, start: date, end: date) -> SalesTable:
    """Orders, units and revenue per day from `start` to `end` inclusive.

    Days without orders appear with zeros, so charts show gaps as gaps.
    """
    day = func.date(Order.created_at, type_=Date).label("day")
    query = _totals(day, start, end).group_by(day).order_by(day)
    found = {_as_date(row.day): row for row in session.execute(query)}
    rows = []
    for offset in range((end - start).days + 1):
        current = start + timedelta(days=offset)
        hit = found.get(current)
        rows.append(
            SalesRow(current.isoformat(), hit.orders, int(hit.units), _money(hit.revenue))
            if hit is not None
            else SalesRow(current.isoformat(), 0, 0, Decimal("0.00"))
        )
    return SalesTable(ReportKind.SALES_BY_DAY, "day", tuple(rows))


def sales_by_product(session: Session, start: date, end: date) -> SalesTable:
    """Orders, units and revenue per product, best-selling (by revenue) first."""
    revenue = func.sum(Order.amount)
    query = (
        _totals(Order.product, start, end)
        .group_by(Order.product)
        .order_by(revenue.desc(), Order.product)
    )
    rows = tuple(
        SalesRow(row.product, row.orders, int(row.units), _money(row.revenue))
        for row in session.execute(query)
    )
    return SalesTable(ReportKind.SALES_BY_PRODUCT, "product", rows)


def _totals(group: Any, start: date, end: date) -> Select[Any]:
    # A half-open range on the raw column keeps the index on created_at usable.
    low = datetime.combine(start, time.min, tzinfo=UTC)
    high = datetime.combine(end + timedelta(days=1), time.min, tzinfo=UTC)
    return select(
        group,
        func.count().label("orders"),
        func.sum(Order.quantity).label("units"),
        func.sum(Order.amount).label("revenue"),
    ).where(Order.created_at >= low, Order.created_at < high)


def _money(value: Decimal | float | None) -> Decimal:
    if value is None:
        return Decimal("0.00")
    return Decimal(str(value)).quantize(CENT, rounding=ROUND_HALF_UP)


def _as_date(value: date | str) -> date:
    # SQLite's date() yields text; PostgreSQL's a date.
    return value if isinstance(value, date) else date.fromisoformat(value)
