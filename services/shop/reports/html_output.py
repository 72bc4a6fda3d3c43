"""The HTML summary of a report: totals, an SVG chart and the table, in one file."""

from __future__ import annotations

from datetime import datetime

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from markupsafe import Markup

from shop.reports.kinds import ReportKind
from shop.reports.queries import SalesTable
from shop.reports.svg_chart import Bar, bar_chart, column_chart

_templates = Environment(
    loader=PackageLoader("shop.reports", "templates"),
    autoescape=select_autoescape(["html"]),
    undefined=StrictUndefined,
    keep_trailing_newline=True,
)


def render_chart(table: SalesTable) -> str:
    """The SVG chart of a table's revenue: columns per day, bars per product."""
    bars = [Bar(row.label, row.revenue) for row in table.rows]
    title = f"Revenue, {table.kind.display_name.lower()}"
    if table.kind is ReportKind.SALES_BY_DAY:
        return column_chart(bars, title=title, value_label="revenue per day")
    return bar_chart(bars, title=title, value_label="revenue per product")


def render_summary(
    table: SalesTable,
    *,
    report_id: str,
    date_from: str,
    date_to: str,
    requested_at: datetime,
    csv_name: str,
) -> str:
    """The summary page; its content depends only on the arguments (no build time)."""
    return _templates.get_template("summary.html").render(
        title=table.kind.display_name,
        table=table,
        # The chart is built from escaped text by svg_chart, so it is safe markup.
        chart=Markup(render_chart(table)),
        report_id=report_id,
        date_from=date_from,
        date_to=date_to,
        requested_at=requested_at.strftime("%Y-%m-%d %H:%M UTC"),
        csv_name=csv_name,
    )
