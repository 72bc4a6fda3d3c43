"""Fixtures for the shop's integration tests: real SQLite files, real PostgreSQL
databases (created per test and dropped after) and a real SMTP server."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

from shop.db import SessionFactory, migrate, session_factory_for
from shop.seed import SeedSummary, seed_orders
from shop.settings import ShopSettings
from tests.support.postgres import PostgresDatabase, temporary_postgres_database
from tests.support.smtp_server import SmtpSink

BACKENDS = ["sqlite", "postgresql"]
SEED_UNTIL = date(2024, 12, 31)


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """URL of a SQLite file of this test's own (not created yet)."""
    return f"sqlite:///{tmp_path / 'shop.db'}"


@pytest.fixture
def postgres_database() -> Iterator[PostgresDatabase]:
    """An empty PostgreSQL database of this test's own, dropped afterwards."""
    with temporary_postgres_database("shop_test") as database:
        yield database


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database on each backend in turn."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'shop.db'}"
        return
    with temporary_postgres_database("shop_test") as database:
        yield database.url


@pytest.fixture
def session_factory(database_url: str) -> Iterator[SessionFactory]:
    """Sessions on a migrated, empty database (each backend in turn)."""
    migrate(database_url)
    factory = session_factory_for(database_url)
    yield factory
    _dispose(factory)


@pytest.fixture(scope="module", params=BACKENDS)
def seeded(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[SessionFactory, SeedSummary]]:
    """A migrated database with 20,000 seeded orders, shared by one module's tests.

    Tests using it may add reports, users and deliveries but must not change orders.
    """
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('seeded') / 'shop.db'}"
        yield from _seeded_at(url)
        return
    with temporary_postgres_database("shop_seeded") as database:
        yield from _seeded_at(database.url)


@pytest.fixture
def results_dir(tmp_path: Path) -> Path:
    """Where this test's report files go."""
    return tmp_path / "results"


@pytest.fixture
def smtp_sink() -> Iterator[SmtpSink]:
    """A plain SMTP server on a free port, recording what it accepts."""
    with SmtpSink() as sink:
        yield sink


@pytest.fixture
def settings(tmp_path: Path, smtp_sink: SmtpSink) -> ShopSettings:
    """Settings pointing at the test's SMTP sink and result directory."""
    return ShopSettings(
        database_url=f"sqlite:///{tmp_path / 'shop.db'}",
        smtp_url=smtp_sink.url,
        results_dir=tmp_path / "results",
        base_url="http://shop.test:8000",
        mail_from="Shop Test <shop@shop.test>",
        admin_email="admin@shop.test",
    )


def _seeded_at(url: str) -> Iterator[tuple[SessionFactory, SeedSummary]]:
    migrate(url)
    factory = session_factory_for(url)
    summary = seed_orders(factory, 20_000, days=400, seed=7, until=SEED_UNTIL)
    yield factory, summary
    _dispose(factory)


def _dispose(factory: SessionFactory) -> None:
    bind = factory.kw.get("bind")
    if bind is not None:
        bind.dispose()
