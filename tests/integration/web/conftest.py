"""Fixtures for the web tier: the Flask app on a real SQLite file and a real Redis."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from shop.db import SessionFactory, read_session
from shop.models import Report, User
from tests.support.web_apps import dispose_apps
from web import create_app
from web.services import services

MakeApp = Callable[..., Flask]


@pytest.fixture
def make_app(tmp_path: Path) -> Iterator[MakeApp]:
    """Build apps on this test's SQLite file and reports directory; cleaned up after."""
    built: list[Flask] = []

    def make(redis_url: str, **overrides: Any) -> Flask:
        config = {
            "TESTING": True,
            "REDIS_URL": redis_url,
            "DATABASE_URL": f"sqlite:///{tmp_path / 'shop.db'}",
            "REPORTS_DIR": str(tmp_path / "reports"),
            "SMTP_URL": "smtp://127.0.0.1:1",
            "APP_BASE_URL": "http://shop.test:8000",
            "SECRET_KEY": "test-secret",
            **overrides,
        }
        app = create_app(config)
        built.append(app)
        return app

    yield make
    dispose_apps(built)


@pytest.fixture
def app(make_app: MakeApp, redis_url: str) -> Flask:
    return make_app(redis_url)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def session_factory(app: Flask) -> SessionFactory:
    with app.app_context():
        return services().session_factory


def queued_jobs(client: redis.Redis) -> int:
    """Jobs waiting in any queue, scheduled or in the retry set."""
    waiting = sum(int(client.llen(key)) for key in client.scan_iter("queue:*"))
    return waiting + int(client.zcard("schedule")) + int(client.zcard("retry"))


def stored_rows(session_factory: SessionFactory) -> tuple[int, int]:
    """(reports, users) in the database."""
    with read_session(session_factory) as session:
        reports = session.scalar(select(func.count()).select_from(Report)) or 0
        users = session.scalar(select(func.count()).select_from(User)) or 0
    return reports, users
