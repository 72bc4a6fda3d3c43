"""Building reports against seeded orders on SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import io
import xml.etree.ElementTree as ET
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import DateTime, bindparam, text

from shop.db import SessionFactory, read_session, write_session
from shop.models import Report
from shop.reports import (
    CSV_NAME,
    HTML_NAME,
    ReportDefinitionError,
    ReportNotFound,
    ReportNotReady,
    build_report,
    create_report,
    files_for,
    mark_done,
    result_files,
    validate_report_request,
)
from shop.seed import SeedSummary

Seeded = tuple[SessionFactory, SeedSummary]
SVG = "{http://www.w3.org/2000/svg}"


def request_report(factory: SessionFactory, kind: str, start: str, end: str) -> str:
    return create_report(
        factory, validate_report_request({"kind": kind, "from": start, "to": end})
    ).id


def read_csv(path: Path) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8"), newline="")))


def direct_sql(factory: SessionFactory, sql: str, start: date, end: date) -> list[Any]:
    """Run hand-written SQL over the orders of [start, end], bypassing the report code."""
    statement = text(sql).bindparams(
        bindparam("low", type_=DateTime()), bindparam("high", type_=DateTime())
    )
    with read_session(factory) as session:
        return list(
            session.execute(
                statement,
                {
                    "low": datetime.combine(start, time.min),
                    "high": datetime.combine(end + timedelta(days=1), time.min),
                },
            )
        )


def cents(value: object) -> Decimal:
    return Decimal(str(value)).quantize(Decimal("0.01"))


@pytest.mark.parametrize("kind", ["sales_by_day", "sales_by_product"])
def test_csv_totals_equal_a_direct_sql_aggregate(
    seeded: Seeded, results_dir: Path, kind: str
) -> None:
    factory, _summary = seeded
    report_id = request_report(factory, kind, "2024-02-10", "2024-11-20")

    built = build_report(factory, results_dir, report_id)
    rows = read_csv(built.files.csv_path)

    [(orders, units, revenue)] = direct_sql(
        factory,
        "SELECT COUNT(*), SUM(quantity), SUM(amount) FROM orders "
        "WHERE created_at >= :low AND created_at < :high",
        date(2024, 2, 10),
        date(2024, 11, 20),
    )
    assert orders > 10_000
    assert sum(int(row["orders"]) for row in rows) == orders
    assert sum(int(row["units"]) for row in rows) == units
    assert sum(Decimal(row["revenue"]) for row in rows) == cents(revenue)
    assert built.table.total_revenue == cents(revenue)


def test_every_product_row_equals_its_own_sql_group(seeded: Seeded, results_dir: Path) -> None:
    factory, _summary = seeded
    report_id = request_report(factory, "sales_by_product", "2024-06-01", "2024-06-30")

    rows = read_csv(build_report(factory, results_dir, report_id).files.csv_path)

    expected = {
        product: (count, units, cents(revenue))
        for product, count, units, revenue in direct_sql(
            factory,
            "SELECT product, COUNT(*), SUM(quantity), SUM(amount) FROM orders "
            "WHERE created_at >= :low AND created_at < :high GROUP BY product",
            date(2024, 6, 1),
            date(2024, 6, 30),
        )
    }
    assert {
        r["product"]: (int(r["orders"]), int(r["units"]), Decimal(r["revenue"])) for r in rows
    } == expected
    revenues = [Decimal(r["revenue"]) for r in rows]
    assert revenues == sorted(revenues, reverse=True)


def test_sales_by_day_lists_every_day_of_the_range_even_without_orders(
    seeded: Seeded, results_dir: Path
) -> None:
    factory, summary = seeded
    start, end = summary.last_day - timedelta(days=4), summary.last_day + timedelta(days=5)
    report_id = request_report(factory, "sales_by_day", start.isoformat(), end.isoformat())

    rows = read_csv(build_report(factory, results_dir, report_id).files.csv_path)

    assert [r["day"] for r in rows] == [(start + timedelta(days=i)).isoformat() for i in range(10)]
    assert all(int(r["orders"]) > 0 for r in rows[:5])
    assert all(r["orders"] == "0" and r["revenue"] == "0.00" for r in rows[5:])
    by_day = {
        str(day)[:10]: count
        for day, count in direct_sql(
            factory,
            "SELECT date(created_at), COUNT(*) FROM orders "
            "WHERE created_at >= :low AND created_at < :high GROUP BY date(created_at)",
            start,
            end,
        )
    }
    assert {r["day"]: int(r["orders"]) for r in rows if r["orders"] != "0"} == by_day


def test_building_twice_writes_the_same_bytes_and_leaves_no_temporary_files(
    seeded: Seeded, results_dir: Path
) -> None:
    factory, _summary = seeded
    report_id = request_report(factory, "sales_by_day", "2024-01-01", "2024-03-31")

    first = build_report(factory, results_dir, report_id)
    csv_bytes, html_bytes = first.files.csv_path.read_bytes(), first.files.html_path.read_bytes()
    second = build_report(factory, results_dir, report_id)

    assert second.files == first.files == files_for(results_dir, report_id)
    assert second.files.csv_path.read_bytes() == csv_bytes
    assert second.files.html_path.read_bytes() == html_bytes
    assert sorted(p.name for p in (results_dir / report_id).iterdir()) == sorted(
        [CSV_NAME, HTML_NAME]
    )


def test_the_html_summary_holds_totals_a_well_formed_svg_chart_and_a_csv_link(
    seeded: Seeded, results_dir: Path
) -> None:
    factory, _summary = seeded
    report_id = request_report(factory, "sales_by_product", "2024-01-01", "2024-12-31")

    built = build_report(factory, results_dir, report_id)
    html = built.files.html_path.read_text(encoding="utf-8")

    svg = html[html.index("<svg") : html.index("</svg>") + len("</svg>")]
    chart = ET.fromstring(svg)
    assert chart.tag == f"{SVG}svg"
    assert len(chart.findall(f"{SVG}rect")) == len(built.table.rows)
    assert f"{built.table.total_revenue:,.2f}" in html
    assert f'href="{CSV_NAME}"' in html
    assert "<script" not in html
    assert "2024-01-01 to 2024-12-31" in html


def set_stored_definition(factory: SessionFactory, report_id: str, **values: Any) -> None:
    with write_session(factory) as session:
        row = session.get(Report, report_id)
        assert row is not None
        for name, value in values.items():
            setattr(row, name, value)


@pytest.mark.parametrize(
    ("stored", "message"),
    [
        ({"kind": "sales_by_weather"}, "unknown kind"),
        ({"parameters": {"from": "2024-05-01", "to": "2024-04-01"}}, "before from"),
        ({"parameters": {"from": "2024-05-01"}}, "to: is required"),
        ({"parameters": {"from": "2024-02-30", "to": "2024-03-01"}}, "not a real calendar date"),
        ({"parameters": ["2024-01-01", "2024-01-02"]}, "parameters must be an object"),
        ({"parameters": {"from": "2020-01-01", "to": "2024-01-01"}}, "the limit is"),
    ],
)
def test_a_stored_definition_that_no_longer_validates_raises_report_definition_error(
    seeded: Seeded, results_dir: Path, stored: dict[str, Any], message: str
) -> None:
    factory, _summary = seeded
    report_id = request_report(factory, "sales_by_day", "2024-01-01", "2024-01-31")
    set_stored_definition(factory, report_id, **stored)

    with pytest.raises(ReportDefinitionError, match=message):
        build_report(factory, results_dir, report_id)
    assert not (results_dir / report_id).exists()


def test_building_a_missing_report_raises_report_not_found(
    seeded: Seeded, results_dir: Path
) -> None:
    factory, _summary = seeded
    with pytest.raises(ReportNotFound):
        build_report(factory, results_dir, "e" * 32)


def test_result_files_are_served_only_when_done_and_present(
    seeded: Seeded, results_dir: Path
) -> None:
    factory, _summary = seeded
    report_id = request_report(factory, "sales_by_product", "2024-04-01", "2024-04-30")
    pending = create_report(
        factory,
        validate_report_request({"kind": "sales_by_day", "from": "2024-04-01", "to": "2024-04-02"}),
    )
    with pytest.raises(ReportNotReady, match="pending"):
        result_files(results_dir, pending)

    built = build_report(factory, results_dir, report_id)
    done = mark_done(factory, report_id, built.files.location)
    assert result_files(results_dir, done) == built.files

    built.files.csv_path.unlink()
    with pytest.raises(ReportNotReady, match="missing"):
        result_files(results_dir, done)


def test_a_result_location_outside_the_results_dir_is_refused(
    seeded: Seeded, results_dir: Path
) -> None:
    factory, _summary = seeded
    report_id = request_report(factory, "sales_by_product", "2024-04-01", "2024-04-30")
    done = mark_done(factory, report_id, "../../etc")
    with pytest.raises(ReportNotReady, match="invalid result location"):
        result_files(results_dir, done)
