"""The dashboard's pure helpers: time and size formatting, chart geometry, parameters."""

from __future__ import annotations

import base64
from datetime import date, timedelta

import pytest
from markupsafe import Markup

from sidequest.dashboard import charts, formatting, params, security
from sidequest.dashboard.views.common import Pager

NOW = 1_800_000_000.0


@pytest.mark.parametrize(
    ("moment", "expected"),
    [
        (NOW, "just now"),
        (NOW - 1, "1 second ago"),
        (NOW - 59, "59 seconds ago"),
        (NOW - 60, "1 minute ago"),
        (NOW - 7200, "2 hours ago"),
        (NOW - 3 * 86400, "3 days ago"),
        (NOW + 90, "in 1 minute"),
        (NOW + 400 * 86400, "in 1 year"),
    ],
)
def test_relative_times(moment: float, expected: str) -> None:
    assert formatting.relative(moment, NOW) == expected


def test_time_tags_carry_the_absolute_time_and_escape_nothing_foreign() -> None:
    tag = formatting.time_tag(NOW - 120, NOW)
    assert isinstance(tag, Markup)
    assert tag == (
        '<time datetime="2027-01-15T07:58:00Z" title="2027-01-15 07:58:00 UTC">2 minutes ago</time>'
    )
    assert "never" in formatting.time_tag(None)


def test_durations_sizes_and_json_cells() -> None:
    assert formatting.duration(0.0004) == "0.40 ms"
    assert formatting.duration(0.25) == "250 ms"
    assert formatting.duration(12.34) == "12.3 s"
    assert formatting.duration(150) == "2.5 min"
    assert formatting.duration(None) == "\N{EN DASH}"
    assert formatting.kilobytes(512) == "512 KB"
    assert formatting.kilobytes(2048) == "2 MB"
    assert formatting.kilobytes(3 * 1024 * 1024) == "3.0 GB"
    assert formatting.json_text(["Grüße", 1], limit=None) == '["Grüße", 1]'
    assert formatting.json_text(list(range(100)), limit=10) == "[0, 1, 2,…"
    assert formatting.query({"page": "2", "filter": "a&b"}, page=3) == "page=3&filter=a%26b"


def test_keyword_arguments_show_as_name_value_pairs_not_as_the_stored_hash() -> None:
    stored = [42, {"format": "pdf", "pages": [1, 2], "_aj_ruby2_keywords": ["format", "pages"]}]

    assert formatting.args_text(stored) == '[42, format="pdf", pages=[1, 2]]'
    assert formatting.args_text(stored, limit=12) == "[42, format…"
    assert formatting.split_keywords(stored) == ([42], {"format": "pdf", "pages": [1, 2]})
    # A hash that is no keyword hash (a plain dict, ActiveJob's symbol keys) shows as stored.
    plain = [42, {"format": "pdf", "_aj_symbol_keys": ["format"]}]
    assert formatting.args_text(plain) == formatting.json_text(plain)
    assert formatting.args_text([]) == "[]"


def test_the_history_chart_places_every_day_oldest_first() -> None:
    today = date(2026, 5, 4)
    days = [(today - timedelta(days=n), 10 * n, n) for n in range(7)]  # newest first
    chart = charts.history_chart(days)
    processed = [tuple(map(float, point.split(","))) for point in chart.series["processed"].split()]
    assert len(processed) == 7
    assert processed[0][0] < processed[-1][0]  # left to right in time
    assert processed[0][1] < processed[-1][1]  # the oldest day had the most: highest point
    assert chart.y_ticks[-1].label == "100"  # nice ceiling of 60
    assert chart.x_ticks[-1].label == "May 04"


def test_nice_ceilings_and_bars() -> None:
    assert [charts.nice_ceiling(v) for v in (0, 1, 3, 7, 11, 250, 999)] == [
        1.0,
        1.0,
        5.0,
        10.0,
        20.0,
        500.0,
        1000.0,
    ]
    bars = charts.bars([("a", 5), ("b", 10), ("c", 0)])
    assert [bar.width for bar in bars] == [50.0, 100.0, 0.0]
    assert charts.bars([("a", 0)])[0].width == 0.0


def test_pager_windows() -> None:
    pager = Pager(number=50, size=25, total=100_000)
    assert pager.pages == 4000 and pager.start == 1225
    assert pager.window() == [1, 48, 49, 50, 51, 52, 4000]
    assert Pager(1, 25, 0).pages == 1 and Pager(1, 25, 0).next is None


def test_parameters_are_bounded() -> None:
    assert params.page({}) == 1
    assert params.history_days({"days": "180"}) == 180
    with pytest.raises(params.ParameterError, match="between 7 and 180"):
        params.history_days({"days": "181"})
    with pytest.raises(params.ParameterError, match="one of 10, 25, 50, 100"):
        params.page_size({"per_page": "11"}, 25)
    assert params.filter_text({"filter": "  spaced  "}) == "spaced"


def test_basic_credentials_are_parsed_and_compared_whole() -> None:
    class FakeRequest:
        def __init__(self, header: str):
            self.headers = {"Authorization": header}

    encoded = base64.b64encode("ädmin:pa:ss".encode()).decode()
    given = security.basic_credentials(FakeRequest(f"Basic {encoded}"))  # type: ignore[arg-type]
    assert given == ("ädmin", "pa:ss")
    assert security.credentials_match(given, "ädmin", "pa:ss")
    assert not security.credentials_match(given, "ädmin", "pa:s")
    assert not security.credentials_match(None, "a", "b")
    assert security.basic_credentials(FakeRequest("Basic %%%")) is None  # type: ignore[arg-type]
    assert "unsafe-inline" not in security.CONTENT_SECURITY_POLICY
