"""Engines: SQLite tuned for several processes, PostgreSQL through psycopg 3."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from shop.db import create_engine_for, migrate, session_factory_for
from shop.reports import create_report, list_reports, load_report, validate_report_request
from tests.support.ports import free_port
from tests.support.postgres import PostgresDatabase

PROJECT_ROOT = Path(__file__).resolve().parents[3]
ENVIRONMENT = {"PYTHONPATH": f"{PROJECT_ROOT / 'services'}:{PROJECT_ROOT}", "PATH": "/usr/bin:/bin"}


def test_sqlite_connections_use_wal_a_busy_timeout_and_foreign_keys(tmp_path: Path) -> None:
    engine = create_engine_for(f"sqlite:///{tmp_path / 'nested' / 'dir' / 'shop.db'}")
    try:
        with engine.connect() as connection:
            assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
            assert connection.execute(text("PRAGMA busy_timeout")).scalar() == 30_000
            assert connection.execute(text("PRAGMA foreign_keys")).scalar() == 1
    finally:
        engine.dispose()
    assert (tmp_path / "nested" / "dir" / "shop.db").is_file()


def test_plain_postgresql_urls_are_served_by_psycopg_3(postgres_database: PostgresDatabase) -> None:
    assert postgres_database.url.startswith("postgresql://")
    engine = create_engine_for(postgres_database.url)
    try:
        assert engine.dialect.driver == "psycopg"
        with engine.connect() as connection:
            assert (
                connection.execute(text("SELECT current_database()")).scalar()
                == postgres_database.name
            )
    finally:
        engine.dispose()


def test_an_unreachable_postgresql_raises_operational_error() -> None:
    factory = session_factory_for(f"postgresql://postgres@127.0.0.1:{free_port()}/shop")
    with pytest.raises(OperationalError):
        load_report(factory, "0" * 32)


def test_an_unopenable_sqlite_file_raises_operational_error(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("a file where a directory should be")
    url = f"sqlite:///{tmp_path / 'shop.db'}"
    migrate(url)
    (tmp_path / "shop.db").unlink()
    (tmp_path / "shop.db-wal").unlink(missing_ok=True)
    (tmp_path / "shop.db-shm").unlink(missing_ok=True)
    (tmp_path / "shop.db").mkdir()
    with pytest.raises(OperationalError):
        list_reports(session_factory_for(url))


def test_several_processes_write_one_sqlite_file_without_lock_errors(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'shop.db'}"
    migrate(url)
    # Each writer reads, then updates: the pattern that fails with "database is locked"
    # at once under deferred transactions when another process commits in between.
    script = """
import sys
from shop.db import session_factory_for
from shop.reports import create_report, mark_processing, mark_done, validate_report_request
factory = session_factory_for(sys.argv[1])
request = validate_report_request(
    {"kind": "sales_by_day", "from": "2024-01-01", "to": "2024-01-31"}
)
for _ in range(40):
    report = create_report(factory, request)
    mark_processing(factory, report.id)
    mark_done(factory, report.id, report.id)
"""
    writers = [
        subprocess.Popen(
            [sys.executable, "-c", script, url],
            env=ENVIRONMENT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for _ in range(4)
    ]
    outcomes = [(writer.communicate(timeout=120)[1], writer.returncode) for writer in writers]

    for stderr, returncode in outcomes:
        assert returncode == 0, stderr.decode()
    reports = list_reports(session_factory_for(url), limit=1000)
    assert len(reports) == 160
    assert {report.status.value for report in reports} == {"done"}
    assert {report.attempts for report in reports} == {1}


def test_in_memory_sqlite_is_refused_with_a_reason() -> None:
    with pytest.raises(ValueError, match="in-memory SQLite"):
        create_engine_for("sqlite://")


def test_reports_created_through_one_engine_are_visible_through_another(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'shop.db'}"
    migrate(url)
    request = validate_report_request(
        {"kind": "sales_by_day", "from": "2024-01-01", "to": "2024-01-02"}
    )
    report = create_report(session_factory_for(url), request)
    assert load_report(session_factory_for(url), report.id) == report
