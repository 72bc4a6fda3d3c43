"""Migrations: idempotent, safe when processes race, usable from the alembic CLI."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

from shop.db import create_engine_for, current_revision, head_revision, migrate
from shop.db.migrate import ALEMBIC_INI
from shop.models import Base
from sidequest.outbox import metadata as outbox_metadata

PROJECT_ROOT = Path(__file__).resolve().parents[3]
ENVIRONMENT = {"PYTHONPATH": f"{PROJECT_ROOT / 'services'}:{PROJECT_ROOT}", "PATH": "/usr/bin:/bin"}
TABLES = {
    "orders",
    "reports",
    "users",
    "preferences",
    "mail_deliveries",
    "sidequest_outbox",
    "alembic_version",
}


def table_names(url: str) -> set[str]:
    engine = create_engine_for(url)
    try:
        return set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_migrate_creates_every_table_and_is_idempotent(database_url: str) -> None:
    assert current_revision(database_url) is None

    migrate(database_url)
    migrate(database_url)

    assert table_names(database_url) == TABLES
    assert current_revision(database_url) == head_revision()


def test_models_match_the_migrated_schema(database_url: str) -> None:
    migrate(database_url)
    engine = create_engine_for(database_url)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            differences = compare_metadata(context, [Base.metadata, outbox_metadata])
    finally:
        engine.dispose()
    assert differences == []


def test_two_processes_migrating_at_once_both_succeed(database_url: str) -> None:
    script = "import sys; from shop.db import migrate; migrate(sys.argv[1])"
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", script, database_url],
            env=ENVIRONMENT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for _ in range(3)
    ]
    outcomes = [(process.communicate(timeout=60)[1], process.returncode) for process in processes]

    for stderr, returncode in outcomes:
        assert returncode == 0, stderr.decode()
    assert current_revision(database_url) == head_revision()
    assert table_names(database_url) == TABLES


def test_alembic_cli_upgrades_downgrades_and_reports_the_revision(database_url: str) -> None:
    alembic = [
        sys.executable,
        "-m",
        "alembic",
        "-c",
        str(ALEMBIC_INI),
        "-x",
        f"database_url={database_url}",
    ]

    def run(*arguments: str) -> str:
        result = subprocess.run(  # noqa: PLW1510 - the return code is asserted with its stderr
            [*alembic, *arguments], env=ENVIRONMENT, capture_output=True, text=True, timeout=60
        )
        assert result.returncode == 0, result.stderr
        return result.stdout + result.stderr

    run("upgrade", "head")
    assert current_revision(database_url) == head_revision()
    assert head_revision() in run("current")

    run("downgrade", "base")
    assert current_revision(database_url) is None
    assert table_names(database_url) == {"alembic_version"}

    migrate(database_url)
    assert table_names(database_url) == TABLES


def test_alembic_cli_takes_the_url_from_database_url(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'from-env.db'}"
    result = subprocess.run(  # noqa: PLW1510 - the return code is asserted with its stderr
        [sys.executable, "-m", "alembic", "-c", str(ALEMBIC_INI), "upgrade", "head"],
        env={**ENVIRONMENT, "DATABASE_URL": url},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert current_revision(url) == head_revision()


def test_alembic_cli_prints_sql_offline(tmp_path: Path) -> None:
    result = subprocess.run(  # noqa: PLW1510 - the return code is asserted with its stderr
        [
            sys.executable, "-m", "alembic", "-c", str(ALEMBIC_INI),
            "-x", "database_url=postgresql://nobody@127.0.0.1:1/none", "upgrade", "head", "--sql",
        ],
        env=ENVIRONMENT,
        capture_output=True,
        text=True,
        timeout=60,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "CREATE TABLE orders" in result.stdout
    assert "JSONB" in result.stdout
