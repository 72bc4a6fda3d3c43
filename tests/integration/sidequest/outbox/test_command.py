"""`sidequest outbox status` and `sidequest outbox relay`."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import redis
from click.testing import CliRunner
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from sidequest.cli import main
from tests.integration.sidequest.outbox.conftest import pending_rows
from tests.integration.sidequest.outbox.outbox_jobs import OutboxNoteJob
from tests.support.polling import wait_for

PROJECT_ROOT = Path(__file__).resolve().parents[4]


def test_status_counts_the_rows_waiting(database_url: str, engine: Engine) -> None:
    runner = CliRunner()
    empty = runner.invoke(main, ["outbox", "status", "--database-url", database_url])
    assert empty.exit_code == 0, empty.output
    assert empty.output.splitlines() == ["pending: 0", "oldest:  -"]
    with Session(engine) as session, session.begin():
        OutboxNoteJob.set(outbox=session).perform_later("a")
        OutboxNoteJob.set(outbox=session).perform_later("b")

    shown = runner.invoke(main, ["outbox", "status", "--json"], env={"DATABASE_URL": database_url})

    assert shown.exit_code == 0, shown.output
    found = json.loads(shown.output)
    assert found["pending"] == 2
    assert found["oldest_age"] >= 0


def test_status_of_a_database_without_the_table_fails_with_one_line(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'none.db'}"
    result = CliRunner().invoke(main, ["outbox", "status", "--database-url", url])
    assert result.exit_code == 1
    assert "cannot read the outbox" in result.output


def test_relay_runs_until_sigterm(
    database_url: str, engine: Engine, redis_url: str, redis_client: redis.Redis
) -> None:
    with Session(engine) as session, session.begin():
        OutboxNoteJob.set(outbox=session).perform_later("relayed")
    process = subprocess.Popen(
        [sys.executable, "-m", "sidequest", "outbox", "relay", "--database-url", database_url],
        cwd=PROJECT_ROOT,
        env={"PATH": "/usr/bin:/bin", "REDIS_URL": redis_url, "PYTHONPATH": str(PROJECT_ROOT)},
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_for(lambda: pending_rows(engine) == 0, timeout=20, message="the relay")
    finally:
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=30)
    assert process.returncode == 0, stderr
    assert redis_client.llen("queue:outbox") == 1


@pytest.mark.parametrize("url", ["nonsense://", "not a url"])
def test_a_database_url_sqlalchemy_cannot_use_is_a_usage_error(url: str) -> None:
    result = CliRunner().invoke(main, ["outbox", "status", "--database-url", url])
    assert result.exit_code == 2
    assert "--database-url" in result.output and "not a database URL" in result.output
    assert "Traceback" not in result.output
