"""`flask --app web seed`: generated orders, from the app's CLI and as a real command."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from flask import Flask
from sqlalchemy import func, select

from shop.db import SessionFactory, read_session
from shop.models import Order

ROOT = Path(__file__).resolve().parents[3]


def orders(session_factory: SessionFactory) -> int:
    with read_session(session_factory) as session:
        return session.scalar(select(func.count()).select_from(Order)) or 0


def test_seed_inserts_the_orders_asked_for(app: Flask, session_factory: SessionFactory) -> None:
    result = app.test_cli_runner().invoke(
        args=["seed", "--orders", "1500", "--days", "30", "--until", "2024-06-30"]
    )
    assert result.exit_code == 0, result.output
    assert "inserted 1500 orders from 2024-06-01 to 2024-06-30" in result.output
    assert orders(session_factory) == 1500

    replaced = app.test_cli_runner().invoke(args=["seed", "--orders", "10", "--replace"])
    assert replaced.exit_code == 0, replaced.output
    assert orders(session_factory) == 10


def test_seed_refuses_bad_arguments_and_inserts_nothing(
    app: Flask, session_factory: SessionFactory
) -> None:
    runner = app.test_cli_runner()
    for args, phrase in [
        (["seed"], "Missing option '--orders'"),
        (["seed", "--orders", "-5"], "-5 is not in the range"),
        (["seed", "--orders", "many"], "'many' is not a valid integer"),
        (["seed", "--orders", "5", "--until", "31/12/2024"], "'31/12/2024' does not match"),
        (["seed", "--orders", "5", "--days", "0"], "0 is not in the range"),
    ]:
        result = runner.invoke(args=args)
        assert result.exit_code == 2, args
        assert phrase in result.output
    assert orders(session_factory) == 0


def test_flask_app_web_seed_runs_as_a_command(tmp_path: Path, redis_url: str) -> None:
    database = tmp_path / "cli.db"
    environment = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{database}",
        "REDIS_URL": redis_url,
        "REPORTS_DIR": str(tmp_path / "reports"),
        "SECRET_KEY": "cli",
    }
    result = subprocess.run(
        [sys.executable, "-m", "flask", "--app", "web", "seed", "--orders", "250"],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("inserted 250 orders from ")
    assert database.is_file()
