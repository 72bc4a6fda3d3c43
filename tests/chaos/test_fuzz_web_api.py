"""No request makes the web tier answer 500.

Every route of the Flask app (the JSON API, the pages, health and metrics) gets
arbitrary path segments, query strings and bodies: JSON of any shape (NaN included),
form fields, and raw bytes under any content type. The app runs on a real SQLite file
and a real Redis, as in tests/integration/web. There is no OpenAPI description of the
API yet; Hypothesis draws the requests from the URL map instead.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

import pytest
from flask import Flask
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.chaos.fuzz_entries import json_values
from tests.support.web_apps import dispose_apps
from web import create_app


@pytest.fixture
def web_app(tmp_path: Path, redis_url: str) -> Iterator[Flask]:
    app = create_app(
        {
            "TESTING": True,
            "REDIS_URL": redis_url,
            "DATABASE_URL": f"sqlite:///{tmp_path / 'shop.db'}",
            "REPORTS_DIR": str(tmp_path / "reports"),
            "SMTP_URL": "smtp://127.0.0.1:1",
            "APP_BASE_URL": "http://shop.test:8000",
            "SECRET_KEY": "fuzz-secret",
        }
    )
    yield app
    dispose_apps([app])


def _routes(app: Flask) -> list[tuple[str, str]]:
    """(method, rule) for every route but static files."""
    return sorted(
        (method, rule.rule)
        for rule in app.url_map.iter_rules()
        if rule.endpoint != "static"
        for method in rule.methods or ()
        if method in ("GET", "POST")
    )


segments = st.one_of(
    st.integers(min_value=-(2**70), max_value=2**70).map(str),
    st.text(min_size=1, max_size=30),
    st.sampled_from(["1", "0", "-1", "..", "%00", "a/b", "NaN", "1e400", "9" * 400]),
)
# Objects with the API's own field names (reports, signups) reach past the shape check.
plausible = st.one_of(
    json_values,
    st.sampled_from(
        ["sales", "daily", "2024-01-31", "2024-02-30", "0001-01-01", "9999-12-31", "a@b.co", ""]
    ),
    st.dates().map(lambda day: day.isoformat()),
    st.emails(),
)
api_shaped = st.dictionaries(
    st.sampled_from(["kind", "from", "to", "email", "name"]) | st.text(max_size=5), plausible
)
bodies = st.one_of(
    st.none(),
    json_values.map(lambda value: ("application/json", json.dumps(value).encode())),
    api_shaped.map(lambda value: ("application/json", json.dumps(value).encode())),
    st.dictionaries(st.text(max_size=12), st.text(max_size=40), max_size=5).map(
        lambda form: ("application/x-www-form-urlencoded", urlencode(form).encode())
    ),
    st.tuples(
        st.sampled_from(
            ["application/json", "text/plain", "multipart/form-data", "application/octet-stream"]
        ),
        st.binary(max_size=200),
    ),
)


@st.composite
def requests(draw: st.DrawFn, routes: list[tuple[str, str]]) -> tuple[str, str, Any]:
    method, rule = draw(st.sampled_from(routes))
    path = re.sub(r"<(?:[^:>]+:)?[^>]+>", lambda _: quote(draw(segments), safe=""), rule)
    query = draw(st.dictionaries(st.text(max_size=10), st.text(max_size=30), max_size=4))
    if query:
        path += "?" + urlencode(query)
    return method, path, draw(bodies)


def test_no_request_gets_a_500(web_app: Flask) -> None:
    routes = _routes(web_app)
    assert ("POST", "/api/reports") in routes

    @settings(
        max_examples=400,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(request=requests(routes))
    def no_500(request: tuple[str, str, Any]) -> None:
        method, path, body = request
        options: dict[str, Any] = {}
        if body is not None:
            options = {"content_type": body[0], "data": body[1]}
        with web_app.test_client() as client:
            response = client.open(path, method=method, **options)
        assert response.status_code < 500, (method, path, body, response.get_data()[:500])

    no_500()
