"""The jobs' wiring: set explicitly by entry points and tests, or from the environment."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from shop import jobs as shop_jobs
from shop.errors import SettingsError
from shop.mail import SmtpTransport
from shop.settings import ShopSettings


@pytest.fixture(autouse=True)
def no_wiring() -> Iterator[None]:
    shop_jobs.reset()
    yield
    shop_jobs.reset()


def test_configure_sets_what_current_returns(tmp_path: Path) -> None:
    settings = ShopSettings.defaults(tmp_path)
    wiring = shop_jobs.configure(settings)
    assert shop_jobs.current() is wiring
    assert wiring.settings is settings
    assert isinstance(wiring.transport, SmtpTransport)
    assert str(wiring.session_factory.kw["bind"].url).endswith(f"{tmp_path}/var/shop.db")


def test_without_configure_the_wiring_comes_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'env.db'}")
    monkeypatch.setenv("SMTP_URL", "smtp://127.0.0.1:2525")
    monkeypatch.setenv("REPORTS_DIR", str(tmp_path / "reports"))

    wiring = shop_jobs.current()

    assert wiring.settings.results_dir == tmp_path / "reports"
    assert wiring.settings.smtp.port == 2525
    assert shop_jobs.current() is wiring


def test_a_malformed_environment_is_named_in_the_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SMTP_URL", "http://mail.example.org")
    with pytest.raises(SettingsError, match="SMTP_URL"):
        shop_jobs.current()
