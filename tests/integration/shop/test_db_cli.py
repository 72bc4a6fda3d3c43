"""`python -m shop.db`: the command Compose's migrate service and operators run."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from sqlalchemy import func, select

from shop.db import create_engine_for, head_revision, make_session_factory, read_session
from shop.models import Order

PROJECT_ROOT = Path(__file__).resolve().parents[3]
ENVIRONMENT = {"PYTHONPATH": f"{PROJECT_ROOT / 'services'}:{PROJECT_ROOT}", "PATH": "/usr/bin:/bin"}


def shop_db(*arguments: str, database_url: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: PLW1510 - callers assert the return code
        [sys.executable, "-m", "shop.db", *arguments],
        env={**ENVIRONMENT, "DATABASE_URL": database_url},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_upgrade_current_and_seed(database_url: str) -> None:
    assert shop_db("current", database_url=database_url).stdout.strip() == "none"

    upgraded = shop_db("upgrade", database_url=database_url)
    assert upgraded.returncode == 0, upgraded.stderr
    assert shop_db("current", database_url=database_url).stdout.strip() == head_revision()

    seeded = shop_db(
        "seed",
        "--orders",
        "1500",
        "--days",
        "20",
        "--until",
        "2024-03-31",
        database_url=database_url,
    )
    assert seeded.returncode == 0, seeded.stderr
    assert "inserted 1500 orders from 2024-03-12 to 2024-03-31" in seeded.stdout
    engine = create_engine_for(database_url)
    try:
        with read_session(make_session_factory(engine)) as session:
            assert session.scalar(select(func.count()).select_from(Order)) == 1500
    finally:
        engine.dispose()


def test_a_malformed_database_url_is_reported_without_a_traceback() -> None:
    result = shop_db("upgrade", database_url="mysql://db/shop")
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "error: DATABASE_URL: unsupported database 'mysql' in 'mysql://db/shop' "
        "(expected sqlite or postgresql)"
    )


def test_an_impossible_seed_size_is_reported_without_a_traceback(tmp_path: Path) -> None:
    result = shop_db("seed", "--orders", "-5", database_url=f"sqlite:///{tmp_path / 'shop.db'}")
    assert result.returncode == 2
    assert "count must be between 0 and" in result.stderr
    assert "Traceback" not in result.stderr
