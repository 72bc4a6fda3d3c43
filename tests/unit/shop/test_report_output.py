"""CSV and HTML output of a report table, without a database."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from decimal import Decimal

from shop.reports import ReportKind, SalesRow, SalesTable
from shop.reports.csv_output import render_csv
from shop.reports.html_output import render_summary

TABLE = SalesTable(
    ReportKind.SALES_BY_PRODUCT,
    "product",
    (
        SalesRow("Espresso Beans 1kg", 3, 4, Decimal("99.60")),
        SalesRow('=HYPERLINK("x")', 1, 1, Decimal("5")),
        SalesRow('Fish, "Chips"', 2, 2, Decimal("0.50")),
    ),
)


def test_csv_has_a_header_one_line_per_row_and_two_decimal_revenue() -> None:
    text = render_csv(TABLE)
    rows = list(csv.reader(io.StringIO(text, newline="")))
    assert rows == [
        ["product", "orders", "units", "revenue"],
        ["Espresso Beans 1kg", "3", "4", "99.60"],
        ['\'=HYPERLINK("x")', "1", "1", "5.00"],
        ['Fish, "Chips"', "2", "2", "0.50"],
    ]
    assert text.endswith("\r\n")


def test_table_totals_add_up() -> None:
    assert TABLE.total_orders == 6
    assert TABLE.total_units == 7
    assert TABLE.total_revenue == Decimal("105.10")


def test_the_summary_escapes_labels_and_shows_totals() -> None:
    html = render_summary(
        TABLE,
        report_id="abc",
        date_from="2024-01-01",
        date_to="2024-01-31",
        requested_at=datetime(2024, 2, 1, 9, 30, tzinfo=UTC),
        csv_name="report.csv",
    )
    assert "<h1>Sales by product</h1>" in html
    assert "Fish, &#34;Chips&#34;" in html or "Fish, &quot;Chips&quot;" in html
    assert "105.10" in html
    assert "requested 2024-02-01 09:30 UTC" in html
    assert html.count("<svg") == 1
    assert "<script" not in html
