"""The SQL behind each report kind: one GROUP BY query per day of the date range.

A report is built day by day so that its job can say how far it got (`on_day`, which
ProcessReportJob turns into `self.progress`). All summing happens in the database;
Python only adds up the grouped rows (one per day, or per product and day). Money
comes back as Decimal rounded to cents: SQLite sums NUMERIC as floating point, and
rounding a sum of cent amounts of any realistic size back to cents recovers the exact
total.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import Select, func, select
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


#: called after each day of the range: (days done, days in the range, the day)
OnDay = Callable[[int, int, date], None]


def run_report_query(
    session: Session, request: ReportRequest, on_day: OnDay | None = None
) -> SalesTable:
    """Aggregate the orders in the request's range the way its kind asks."""
    if request.kind is ReportKind.SALES_BY_DAY:
        return sales_by_day(session, request.start, request.end, on_day)
    return sales_by_product(session, request.start, request.end, on_day)


def sales_by_day(
    session: Session, start: date, end: date, on_day: OnDay | None = None
) -> SalesTable:
    """Orders, units and revenue per day from `start` to `end` inclusive.

    Days without orders appear with zeros, so charts show gaps as gaps.
    """
    rows = []
    for current in _days(start, end, on_day):
        hit = session.execute(_totals(None, current, current)).one()
        rows.append(
            SalesRow(current.isoformat(), hit.orders, int(hit.units or 0), _money(hit.revenue))
        )
    return SalesTable(ReportKind.SALES_BY_DAY, "day", tuple(rows))


def sales_by_product(
    session: Session, start: date, end: date, on_day: OnDay | None = None
) -> SalesTable:
    """Orders, units and revenue per product, best-selling (by revenue) first."""
    totals: dict[str, list[Any]] = {}
    for current in _days(start, end, on_day):
        query = _totals(Order.product, current, current).group_by(Order.product)
        for row in session.execute(query):
            found = totals.setdefault(row.product, [0, 0, Decimal("0.00")])
            found[0] += row.orders
            found[1] += int(row.units)
            # Each day's sum is rounded to cents: exact, as every amount is in cents.
            found[2] += _money(row.revenue)
    rows = tuple(
        SalesRow(product, orders, units, revenue)
        for product, (orders, units, revenue) in sorted(
            totals.items(), key=lambda item: (-item[1][2], item[0])
        )
    )
    return SalesTable(ReportKind.SALES_BY_PRODUCT, "product", rows)


def _days(start: date, end: date, on_day: OnDay | None) -> Iterator[date]:
    """Each day from `start` to `end`; `on_day` hears of each once it was processed."""
    count = (end - start).days + 1
    for offset in range(count):
        current = start + timedelta(days=offset)
        yield current
        if on_day is not None:
            on_day(offset + 1, count, current)


def _totals(group: Any, start: date, end: date) -> Select[Any]:
    # A half-open range on the raw column keeps the index on created_at usable.
    low = datetime.combine(start, time.min, tzinfo=UTC)
    high = datetime.combine(end + timedelta(days=1), time.min, tzinfo=UTC)
    grouped = () if group is None else (group,)
    return select(
        *grouped,
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
