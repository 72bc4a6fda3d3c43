"""Settings: defaults, environment variables, and clear errors for malformed values."""

from __future__ import annotations

from pathlib import Path

import pytest

from shop.db.urls import normalize_database_url
from shop.errors import SettingsError
from shop.settings import ShopSettings
from shop.smtp_url import SmtpEndpoint, SmtpSecurity, parse_smtp_url


def test_defaults_put_data_under_the_root(tmp_path: Path) -> None:
    settings = ShopSettings.from_env({}, root=tmp_path)
    assert settings.database_url == f"sqlite:///{tmp_path}/var/shop.db"
    assert settings.results_dir == tmp_path / "var" / "reports"
    assert settings.smtp == SmtpEndpoint("127.0.0.1", 1025)
    assert settings.base_url == "http://127.0.0.1:8000"
    assert settings.mail_from_address == "shop@sidequest.localhost"


def test_every_variable_is_read(tmp_path: Path) -> None:
    settings = ShopSettings.from_env(
        {
            "DATABASE_URL": "postgresql://shop:pw@postgres:5432/shop",
            "SMTP_URL": "smtp://mailpit:1025",
            "REPORTS_DIR": "/srv/reports",
            "APP_BASE_URL": "https://shop.example.org/app/",
            "MAIL_FROM": "Shop <Shop@Example.org>",
            "ADMIN_EMAIL": "ops@Example.org",
            "MAIL_CLAIM_LEASE_SECONDS": "7.5",
        },
        root=tmp_path,
    )
    assert settings.database_url == "postgresql://shop:pw@postgres:5432/shop"
    assert settings.smtp.host == "mailpit"
    assert settings.results_dir == Path("/srv/reports")
    assert settings.base_url == "https://shop.example.org/app"
    assert settings.mail_from == "Shop <Shop@example.org>"
    assert settings.admin_email == "ops@example.org"
    assert settings.mail_claim_lease == 7.5


def test_empty_variables_count_as_unset_and_relative_dirs_follow_the_root(tmp_path: Path) -> None:
    settings = ShopSettings.from_env(
        {"DATABASE_URL": "", "SMTP_URL": "  ", "REPORTS_DIR": "out"}, root=tmp_path
    )
    assert settings.database_url.endswith("/var/shop.db")
    assert settings.smtp_url == "smtp://127.0.0.1:1025"
    assert settings.results_dir == tmp_path / "out"


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("DATABASE_URL", "mysql://db/shop", "unsupported database 'mysql'"),
        ("DATABASE_URL", "not a url", "is not a database URL"),
        ("DATABASE_URL", "postgresql://host", "names no database"),
        ("DATABASE_URL", "sqlite://", "in-memory SQLite"),
        ("SMTP_URL", "http://mail:25", "unsupported scheme 'http'"),
        ("SMTP_URL", "smtp://", "has no host"),
        ("SMTP_URL", "smtp://mail:99999", "invalid port"),
        ("SMTP_URL", "smtp://mail:25/inbox", "must not have a path"),
        ("SMTP_URL", "smtp://:secret@mail:25", "password but no user name"),
        ("APP_BASE_URL", "shop.example.org", "must be an http:// or https:// URL"),
        ("APP_BASE_URL", "https://shop.example.org/?x=1", "must not have a query"),
        ("MAIL_FROM", "Shop", "is not an address"),
        ("ADMIN_EMAIL", "admin", "must look like"),
        ("MAIL_CLAIM_LEASE_SECONDS", "soon", "is not a number of seconds"),
        ("MAIL_CLAIM_LEASE_SECONDS", "0", "must be a positive number"),
        ("MAIL_CLAIM_LEASE_SECONDS", "nan", "must be a positive number"),
    ],
)
def test_malformed_variables_are_named_in_the_error(
    tmp_path: Path, variable: str, value: str, message: str
) -> None:
    with pytest.raises(SettingsError, match=message) as caught:
        ShopSettings.from_env({variable: value}, root=tmp_path)
    assert caught.value.setting == variable
    assert str(caught.value).startswith(f"{variable}: ")


def test_direct_construction_names_the_field(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match=r"^smtp_url: "):
        ShopSettings(database_url=f"sqlite:///{tmp_path}/x.db", smtp_url="ftp://x")


def test_passwords_never_show_in_repr_or_errors(tmp_path: Path) -> None:
    settings = ShopSettings.from_env(
        {
            "DATABASE_URL": "postgresql://shop:dbsecret@pg/shop",
            "SMTP_URL": "smtps://u:mailsecret@mail",
        },
        root=tmp_path,
    )
    assert "dbsecret" not in repr(settings)
    assert "mailsecret" not in repr(settings)
    with pytest.raises(SettingsError) as caught:
        ShopSettings.from_env({"SMTP_URL": "smtpx://u:mailsecret@mail"}, root=tmp_path)
    assert "mailsecret" not in str(caught.value)


@pytest.mark.parametrize(
    ("url", "endpoint"),
    [
        ("smtp://127.0.0.1:1025", SmtpEndpoint("127.0.0.1", 1025)),
        ("smtp://mail", SmtpEndpoint("mail", 25)),
        ("SMTPS://mail", SmtpEndpoint("mail", 465, SmtpSecurity.TLS)),
        (
            "smtp+starttls://user%40corp:p%2Fw%3A@mail.example.org",
            SmtpEndpoint("mail.example.org", 587, SmtpSecurity.STARTTLS, "user@corp", "p/w:"),
        ),
        ("smtps://user:@mail:2465", SmtpEndpoint("mail", 2465, SmtpSecurity.TLS, "user", "")),
    ],
)
def test_smtp_urls_parse_into_endpoints(url: str, endpoint: SmtpEndpoint) -> None:
    assert parse_smtp_url(url) == endpoint


@pytest.mark.parametrize(
    ("url", "driver"),
    [
        ("postgresql://u@h/db", "postgresql+psycopg"),
        ("postgres://u@h/db", "postgresql+psycopg"),
        ("postgresql+psycopg://u@h/db", "postgresql+psycopg"),
        ("sqlite:///var/shop.db", "sqlite"),
    ],
)
def test_database_urls_get_the_shipped_driver(url: str, driver: str) -> None:
    assert normalize_database_url(url).drivername == driver
