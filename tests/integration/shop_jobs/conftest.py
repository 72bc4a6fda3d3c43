"""Fixtures for the shop's job classes: a real SQLite database with seeded orders, a
real SMTP server, the jobs' wiring pointed at both, and sidequest's fake adapter."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

from shop import jobs as shop_jobs
from shop.db import SessionFactory, migrate, session_factory_for
from shop.jobs import JobWiring
from shop.seed import seed_orders
from shop.settings import ShopSettings
from sidequest import testing
from sidequest.testing import FakeAdapter
from tests.support.smtp_server import SmtpSink

SEED_UNTIL = date(2024, 12, 31)


@pytest.fixture
def session_factory(tmp_path: Path) -> Iterator[SessionFactory]:
    """A migrated SQLite database with 2,000 orders over 2024."""
    url = f"sqlite:///{tmp_path / 'shop.db'}"
    migrate(url)
    factory = session_factory_for(url)
    seed_orders(factory, 2_000, days=366, seed=3, until=SEED_UNTIL)
    yield factory
    bind = factory.kw.get("bind")
    if bind is not None:
        bind.dispose()


@pytest.fixture
def smtp_sink() -> Iterator[SmtpSink]:
    with SmtpSink() as sink:
        yield sink


@pytest.fixture
def settings(tmp_path: Path, smtp_sink: SmtpSink) -> ShopSettings:
    return ShopSettings(
        database_url=f"sqlite:///{tmp_path / 'shop.db'}",
        smtp_url=smtp_sink.url,
        results_dir=tmp_path / "results",
        base_url="http://shop.test:8000",
        mail_from="Shop Test <shop@shop.test>",
        admin_email="admin@shop.test",
    )


@pytest.fixture
def wiring(settings: ShopSettings, session_factory: SessionFactory) -> Iterator[JobWiring]:
    """The jobs' wiring pointed at this test's database, SMTP sink and directory."""
    wired = shop_jobs.configure(settings, session_factory=session_factory)
    yield wired
    shop_jobs.reset()


@pytest.fixture
def fake_jobs(wiring: JobWiring) -> Iterator[FakeAdapter]:
    """perform_later collects jobs instead of enqueuing them; `drain()` runs them."""
    with testing.fake() as adapter:
        yield adapter
