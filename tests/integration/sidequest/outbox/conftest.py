"""Fixtures of the outbox tests: an engine on SQLite or PostgreSQL with the table."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, func, select
from sqlalchemy.engine import make_url

from sidequest.outbox import create_table, outbox_table
from tests.support.postgres import temporary_postgres_database

BACKENDS = ["sqlite", "postgresql"]


def engine_for(url: str) -> Engine:
    parsed = make_url(url)
    if parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    return create_engine(parsed)


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database with the outbox table, on each backend in turn."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'app.db'}"
        _create(url)
        yield url
        return
    with temporary_postgres_database("outbox_test") as database:
        psycopg_url = make_url(database.url).set(drivername="postgresql+psycopg")
        rendered = psycopg_url.render_as_string(hide_password=False)
        _create(rendered)
        yield rendered


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A PostgreSQL database with the outbox table (tests about PostgreSQL only)."""
    with temporary_postgres_database("outbox_test") as database:
        url = make_url(database.url).set(drivername="postgresql+psycopg")
        rendered = url.render_as_string(hide_password=False)
        _create(rendered)
        yield rendered


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    built = engine_for(database_url)
    yield built
    built.dispose()


def _create(url: str) -> None:
    built = engine_for(url)
    try:
        create_table(built)
    finally:
        built.dispose()


def pending_rows(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(outbox_table)).scalar_one())
