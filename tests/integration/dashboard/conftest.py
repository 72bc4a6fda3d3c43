"""A dashboard app on a real Redis, and a client that logs in and carries CSRF tokens."""

from __future__ import annotations

import base64
import re
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from sidequest.dashboard import Dashboard

USERNAME = "admin"
PASSWORD = "s3cret-pass"
PREFIX = "/sidequest"
_TOKEN = re.compile(r'<meta name="csrf-token" content="([^"]+)">')


def make_app(redis_url: str, **config: Any) -> Flask:
    app = Flask("dashboard-test")
    app.secret_key = "test-secret-key"
    app.config.update(
        SIDEQUEST_WEB_USERNAME=USERNAME, SIDEQUEST_WEB_PASSWORD=PASSWORD, TESTING=True, **config
    )
    Dashboard().init_app(app, url_prefix=PREFIX, redis=redis_url)
    return app


def basic(username: str = USERNAME, password: str = PASSWORD) -> dict[str, str]:
    token = base64.b64encode(f"{username}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


class Browser:
    """The test client with credentials, following the dashboard's own forms."""

    def __init__(self, client: FlaskClient):
        self.client = client

    def get(self, path: str, **kwargs: Any) -> TestResponse:
        return self.client.get(PREFIX + path, headers=basic(), **kwargs)

    def token(self) -> str:
        page = self.get("/metrics").get_data(as_text=True)
        found = _TOKEN.search(page)
        assert found, "the page has no CSRF token"
        return found.group(1)

    def post(
        self,
        path: str,
        data: dict[str, Any] | None = None,
        *,
        token: str | None = None,
        **kwargs: Any,
    ) -> TestResponse:
        form = dict(data or {})
        form.setdefault("csrf_token", self.token() if token is None else token)
        headers = {**basic(), **kwargs.pop("headers", {})}
        return self.client.post(PREFIX + path, data=form, headers=headers, **kwargs)

    def notice(self) -> str:
        """The message the last action left for the next page."""
        with self.client.session_transaction() as session:
            return str(session.get("sidequest_notice", ""))


@pytest.fixture
def app(redis_url: str) -> Flask:
    return make_app(redis_url)


@pytest.fixture
def browser(app: Flask) -> Iterator[Browser]:
    with app.test_client() as client:
        yield Browser(client)


@pytest.fixture
def db(redis_url: str) -> Iterator[redis.Redis]:
    """A bytes client for seeding (payloads are stored exactly as written)."""
    client = redis.Redis.from_url(redis_url)
    yield client
    client.close()
