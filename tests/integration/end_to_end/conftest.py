"""The whole application as real processes: a redis-server, `sidequest worker -r shop.jobs`,
the web tier (gunicorn, or Flask's test client), an SMTP server, and SQLite or PostgreSQL.

The worker gets its settings only from the environment, as in production; the tests
drive the stack through HTTP and look at Redis, the database and the SMTP server.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, Protocol

import pytest
from flask import Flask
from flask.testing import FlaskClient

from shop import jobs as shop_jobs
from shop.db import SessionFactory, migrate, session_factory_for
from shop.seed import seed_orders
from sidequest.adapter import set_adapter
from tests.support.postgres import temporary_postgres_database
from tests.support.smtp_server import SmtpSink
from tests.support.web_server import GunicornServer, HttpAnswer, http
from tests.support.worker_process import WorkerProcess
from web import create_app
from web.services import services

SEED_UNTIL = date(2024, 12, 31)
SEEDED_ORDERS = 20_000
BASE_URL = "http://shop.test:8000"
ADMIN = "admin@shop.test"
WORKER_QUEUES = ("-q", "reports", "-q", "mailers", "-q", "default")
FAST_HEARTBEAT = {"SIDEQUEST_HEARTBEAT_INTERVAL": "0.2", "SIDEQUEST_HEARTBEAT_TIMEOUT": "1.5"}


class Web(Protocol):
    """The web tier as the tests use it: plain HTTP requests by path."""

    def request(self, method: str, path: str, json_body: Any = None) -> HttpAnswer: ...


class GunicornWeb:
    def __init__(self, server: GunicornServer) -> None:
        self.server = server

    def request(self, method: str, path: str, json_body: Any = None) -> HttpAnswer:
        return http(method, self.server.url(path), json_body=json_body)


class TestClientWeb:
    def __init__(self, client: FlaskClient) -> None:
        self.client = client

    def request(self, method: str, path: str, json_body: Any = None) -> HttpAnswer:
        with self.client.open(path, method=method, json=json_body) as response:
            return HttpAnswer(response.status_code, response.headers, response.data)  # type: ignore[arg-type]


@dataclass
class Stack:
    """One running application."""

    database_url: str
    session_factory: SessionFactory
    env: dict[str, str]
    smtp: SmtpSink
    web: Web
    start_worker: Callable[..., WorkerProcess]


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A migrated database with seeded orders, on each backend in turn."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'shop.db'}"
        _seed(url)
        yield url
        return
    with temporary_postgres_database("shop_e2e") as database:
        _seed(database.url)
        yield database.url


@pytest.fixture
def sqlite_database_url(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'shop.db'}"
    _seed(url)
    return url


def _seed(url: str) -> None:
    migrate(url)
    factory = session_factory_for(url)
    try:
        seed_orders(factory, SEEDED_ORDERS, days=366, seed=11, until=SEED_UNTIL)
    finally:
        _dispose(factory)


def _close_app(app: Flask) -> None:
    with app.app_context():
        services().close()
    shop_jobs.reset()
    set_adapter(None)


def _dispose(factory: SessionFactory) -> None:
    bind = factory.kw.get("bind")
    if bind is not None:
        bind.dispose()


@pytest.fixture
def make_stack(tmp_path: Path, redis_url: str) -> Iterator[Callable[..., Stack]]:
    """Start a stack on a database: gunicorn for SQLite, the test client for PostgreSQL."""
    cleanups: list[Callable[[], object]] = []

    def make(database_url: str, *, use_gunicorn: bool | None = None) -> Stack:
        smtp = SmtpSink().start()
        cleanups.append(smtp.stop)
        env = {
            "REDIS_URL": redis_url,
            "DATABASE_URL": database_url,
            "SMTP_URL": smtp.url,
            "REPORTS_DIR": str(tmp_path / "reports"),
            "APP_BASE_URL": BASE_URL,
            "ADMIN_EMAIL": ADMIN,
            "MAIL_FROM": "Shop <shop@shop.test>",
            "SECRET_KEY": "end-to-end",
        }
        gunicorn = database_url.startswith("sqlite") if use_gunicorn is None else use_gunicorn
        web: Web
        if gunicorn:
            server = GunicornServer(env, tmp_path / "gunicorn.log", workers=2).start()
            cleanups.append(server.stop)
            web = GunicornWeb(server)
        else:
            app = create_app({"TESTING": True, **env})
            cleanups.append(lambda: _close_app(app))
            web = TestClientWeb(app.test_client())
        session_factory = session_factory_for(database_url)
        cleanups.append(lambda: _dispose(session_factory))

        def start_worker(concurrency: int = 4) -> WorkerProcess:
            log = tmp_path / f"worker-{len(cleanups)}.log"
            worker = WorkerProcess(
                redis_url,
                log,
                args=(*WORKER_QUEUES, "-c", str(concurrency)),
                requires=("shop.jobs",),
                env={**env, **FAST_HEARTBEAT},
            ).start()
            cleanups.append(worker.stop)
            return worker

        return Stack(database_url, session_factory, env, smtp, web, start_worker)

    yield make
    for cleanup in reversed(cleanups):
        cleanup()
