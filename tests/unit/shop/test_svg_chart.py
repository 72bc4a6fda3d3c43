"""Hand-written SVG charts: well-formed, proportional, escaped, deterministic."""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from decimal import Decimal

import pytest

from shop.reports.svg_chart import Bar, bar_chart, column_chart, nice_ticks

SVG = "{http://www.w3.org/2000/svg}"


def bars_of(svg: str) -> list[ET.Element]:
    return ET.fromstring(svg).findall(f"{SVG}rect")


@pytest.mark.parametrize(
    ("maximum", "ticks"),
    [
        (0, [0.0, 1.0]),
        (7, [0, 2, 4, 6, 8]),
        (10, [0, 2, 4, 6, 8, 10]),
        (2_434_583.49, [0, 500_000, 1_000_000, 1_500_000, 2_000_000, 2_500_000]),
        (0.3, [0, 0.1, 0.2, 0.3]),
    ],
)
def test_ticks_are_round_and_cover_the_maximum(maximum: float, ticks: list[float]) -> None:
    assert nice_ticks(maximum) == ticks


@pytest.mark.parametrize("maximum", [-1.0, math.inf, math.nan])
def test_ticks_refuse_impossible_maxima(maximum: float) -> None:
    with pytest.raises(ValueError, match="finite number"):
        nice_ticks(maximum)


@pytest.mark.parametrize("chart", [column_chart, bar_chart])
def test_bar_sizes_are_proportional_to_values(chart: object) -> None:
    assert callable(chart)
    svg = chart([Bar("a", Decimal("10.00")), Bar("b", 20), Bar("c", 0)], title="t", value_label="v")
    sizes = [
        float(rect.get("height" if chart is column_chart else "width") or "nan")
        for rect in bars_of(svg)
    ]
    assert len(sizes) == 3
    assert sizes[1] == pytest.approx(2 * sizes[0], abs=0.02)
    assert sizes[2] == 0


def test_labels_and_titles_are_escaped() -> None:
    svg = bar_chart([Bar('Fish & "Chips" <deluxe>', 5)], title="A < B & C", value_label="£")
    root = ET.fromstring(svg)
    assert root.get("aria-label") == "A < B & C"
    texts = [element.text for element in root.iter(f"{SVG}text")]
    assert 'Fish & "Chips" <deluxe>' in texts
    assert "<deluxe>" not in svg


def test_many_columns_get_thinned_labels_but_every_bar() -> None:
    bars = [Bar(f"2024-01-{day:02d}", day) for day in range(1, 32)]
    root = ET.fromstring(column_chart(bars, title="t", value_label="v"))
    assert len(root.findall(f"{SVG}rect")) == 31
    labels = [e.text for e in root.iter(f"{SVG}text") if e.text and e.text.startswith("2024-")]
    assert 1 < len(labels) <= 12
    assert labels[0] == "2024-01-01"


@pytest.mark.parametrize("chart", [column_chart, bar_chart])
def test_an_empty_chart_says_so(chart: object) -> None:
    assert callable(chart)
    svg = chart([], title="t", value_label="v")
    assert bars_of(svg) == []
    assert "No sales in this range" in svg


def test_the_same_data_gives_the_same_bytes_and_no_scripts() -> None:
    bars = [Bar("x", 1.5), Bar("y", 2.25)]
    first = column_chart(bars, title="t", value_label="v")
    assert first == column_chart(bars, title="t", value_label="v")
    assert "<script" not in first
