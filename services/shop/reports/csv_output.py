"""CSV rendering of a report table."""

from __future__ import annotations

import csv
import io

from shop.reports.queries import SalesTable

COLUMNS = ("orders", "units", "revenue")
# A spreadsheet runs a cell starting with one of these as a formula.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def render_csv(table: SalesTable) -> str:
    """One header line and one line per row; revenue with two decimals.

    Labels that a spreadsheet would take for a formula get a leading apostrophe, so
    opening the file never runs anything.
    """
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow((table.label_header, *COLUMNS))
    for row in table.rows:
        writer.writerow((_safe_label(row.label), row.orders, row.units, f"{row.revenue:.2f}"))
    return buffer.getvalue()


def _safe_label(label: str) -> str:
    return "'" + label if label.startswith(_FORMULA_STARTS) else label
