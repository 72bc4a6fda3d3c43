"""The kinds of report the shop can build."""

from __future__ import annotations

import enum


class ReportKind(enum.StrEnum):
    """A supported report kind; the value is what requests and records carry."""

    SALES_BY_DAY = "sales_by_day"
    SALES_BY_PRODUCT = "sales_by_product"

    @property
    def display_name(self) -> str:
        """Human-readable name for pages and mail."""
        return _TITLES[self]


_TITLES = {
    ReportKind.SALES_BY_DAY: "Sales by day",
    ReportKind.SALES_BY_PRODUCT: "Sales by product",
}
