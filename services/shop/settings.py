"""The shop's settings: one frozen value built once by each entry point.

`ShopSettings.from_env()` is the only place in the package that reads environment
variables; everything else receives the settings (or single values from them).

| variable       | field         | default                                   |
|----------------|---------------|-------------------------------------------|
| DATABASE_URL   | database_url  | sqlite:///<root>/var/shop.db              |
| SMTP_URL       | smtp_url      | smtp://127.0.0.1:1025                     |
| REPORTS_DIR    | results_dir   | <root>/var/reports                        |
| APP_BASE_URL   | base_url      | http://127.0.0.1:8000                     |
| MAIL_FROM      | mail_from     | Sidequest Shop <shop@sidequest.localhost> |
| ADMIN_EMAIL    | admin_email   | admin@sidequest.localhost                 |
| MAIL_CLAIM_LEASE_SECONDS | mail_claim_lease | 300                         |

An empty variable counts as unset, so Compose files can pass `${VAR:-}` through.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from email.utils import formataddr, parseaddr
from pathlib import Path
from typing import TypeVar
from urllib.parse import urlsplit

from shop.db.urls import normalize_database_url
from shop.errors import SettingsError
from shop.smtp_url import SmtpEndpoint, parse_smtp_url, redact_smtp_url
from shop.validation import normalize_email

T = TypeVar("T")

DEFAULT_SMTP_URL = "smtp://127.0.0.1:1025"
DEFAULT_BASE_URL = "http://127.0.0.1:8000"
DEFAULT_MAIL_FROM = "Sidequest Shop <shop@sidequest.localhost>"
DEFAULT_ADMIN_EMAIL = "admin@sidequest.localhost"
DEFAULT_MAIL_CLAIM_LEASE = 300.0

ENV_VARIABLES = {
    "database_url": "DATABASE_URL",
    "smtp_url": "SMTP_URL",
    "results_dir": "REPORTS_DIR",
    "base_url": "APP_BASE_URL",
    "mail_from": "MAIL_FROM",
    "admin_email": "ADMIN_EMAIL",
    "mail_claim_lease": "MAIL_CLAIM_LEASE_SECONDS",
}


def default_root() -> Path:
    """The directory the SQLite file and report files go under by default.

    In a source checkout that is the checkout (found by its pyproject.toml two levels
    above this package); an installed copy uses the current working directory.
    """
    checkout = Path(__file__).resolve().parents[2]
    if (checkout / "pyproject.toml").is_file():
        return checkout
    return Path.cwd()


@dataclass(frozen=True, repr=False)
class ShopSettings:
    """Where the shop keeps its data and sends its mail.

    Attributes:
        database_url: SQLAlchemy URL; `postgresql://` URLs are served by psycopg 3.
        smtp_url: smtp://, smtp+starttls:// or smtps:// URL of the mail server.
        results_dir: Directory for built report files, shared by web and workers.
        base_url: Public URL of the web tier, without a trailing slash; mail links
            start with it.
        mail_from: The From address of every mail, optionally with a display name.
        admin_email: Who is told about signups (and gets reports nobody else asked for).
        mail_claim_lease: Seconds a delivery attempt holds its claim on a mail. An
            attempt that dies between claiming and confirming (its worker killed) may
            have sent the mail, so a retry sends only after the claim expired; it must
            outlast the longest send (connect plus replies under the SMTP timeout).
    """

    database_url: str
    smtp_url: str = DEFAULT_SMTP_URL
    results_dir: Path = Path("var/reports")
    base_url: str = DEFAULT_BASE_URL
    mail_from: str = DEFAULT_MAIL_FROM
    admin_email: str = DEFAULT_ADMIN_EMAIL
    mail_claim_lease: float = DEFAULT_MAIL_CLAIM_LEASE

    def __post_init__(self) -> None:
        """Check every field, normalising the ones with a canonical form.

        Raises:
            SettingsError: A field is malformed; the error names the field.
        """
        _check("database_url", lambda: normalize_database_url(self.database_url))
        _check("smtp_url", lambda: parse_smtp_url(self.smtp_url))
        if not isinstance(self.results_dir, Path):
            raise SettingsError("results_dir", "must be a pathlib.Path")
        object.__setattr__(
            self, "base_url", _check("base_url", lambda: _clean_base_url(self.base_url))
        )
        object.__setattr__(
            self, "mail_from", _check("mail_from", lambda: _clean_mailbox(self.mail_from))
        )
        object.__setattr__(
            self, "admin_email", _check("admin_email", lambda: normalize_email(self.admin_email))
        )
        object.__setattr__(
            self,
            "mail_claim_lease",
            _check("mail_claim_lease", lambda: _positive_seconds(self.mail_claim_lease)),
        )

    @classmethod
    def defaults(cls, root: Path | None = None) -> ShopSettings:
        """Settings for a local run: SQLite file and report files under `root`.

        Args:
            root: Directory holding `var/`; `default_root()` when omitted.
        """
        base = root if root is not None else default_root()
        return cls(
            database_url=f"sqlite:///{(base / 'var' / 'shop.db').as_posix()}",
            results_dir=base / "var" / "reports",
        )

    @classmethod
    def from_env(
        cls, environ: Mapping[str, str] | None = None, *, root: Path | None = None
    ) -> ShopSettings:
        """Build the settings from environment variables (see the module docstring).

        Args:
            environ: Variables to read; `os.environ` when omitted.
            root: Directory for the defaults and for a relative REPORTS_DIR;
                `default_root()` when omitted.

        Raises:
            SettingsError: A variable is malformed; the error names the variable.
        """
        env = os.environ if environ is None else environ
        base = root if root is not None else default_root()
        defaults = cls.defaults(base)

        def read(name: str, default: str) -> str:
            value = env.get(name, "").strip()
            return value or default

        reports_dir = Path(read("REPORTS_DIR", str(defaults.results_dir)))
        lease = read("MAIL_CLAIM_LEASE_SECONDS", str(defaults.mail_claim_lease))
        try:
            return cls(
                database_url=read("DATABASE_URL", defaults.database_url),
                smtp_url=read("SMTP_URL", defaults.smtp_url),
                results_dir=reports_dir if reports_dir.is_absolute() else base / reports_dir,
                base_url=read("APP_BASE_URL", defaults.base_url),
                mail_from=read("MAIL_FROM", defaults.mail_from),
                admin_email=read("ADMIN_EMAIL", defaults.admin_email),
                mail_claim_lease=_check("mail_claim_lease", lambda: _number(lease)),
            )
        except SettingsError as error:
            raise SettingsError(
                ENV_VARIABLES.get(error.setting, error.setting), error.detail
            ) from None

    @property
    def smtp(self) -> SmtpEndpoint:
        """The parsed SMTP endpoint."""
        return parse_smtp_url(self.smtp_url)

    @property
    def mail_from_address(self) -> str:
        """The bare address in `mail_from`, for the SMTP envelope."""
        return parseaddr(self.mail_from)[1]

    def __repr__(self) -> str:
        shown = ", ".join(f"{name}={value!r}" for name, value in self.redacted().items())
        return f"ShopSettings({shown})"

    def redacted(self) -> dict[str, str]:
        """The settings as strings with passwords hidden, for logs and diagnostics."""
        values = {f.name: str(getattr(self, f.name)) for f in fields(self)}
        values["database_url"] = normalize_database_url(self.database_url).render_as_string(
            hide_password=True
        )
        values["smtp_url"] = redact_smtp_url(self.smtp_url)
        return values


def _check(setting: str, validate: Callable[[], T]) -> T:
    try:
        return validate()
    except ValueError as error:
        raise SettingsError(setting, str(error)) from None


def _number(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise ValueError(f"{text!r} is not a number of seconds") from None


def _positive_seconds(value: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError("must be a number of seconds")
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"{value!r} must be a positive number of seconds")
    return float(value)


def _clean_base_url(value: str) -> str:
    if not isinstance(value, str):
        raise ValueError("must be a string")
    parts = urlsplit(value.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{value!r} must be an http:// or https:// URL with a host")
    if parts.query or parts.fragment:
        raise ValueError(f"{value!r} must not have a query or fragment")
    return value.strip().rstrip("/")


def _clean_mailbox(value: str) -> str:
    if not isinstance(value, str):
        raise ValueError("must be a string")
    name, address = parseaddr(value.strip())
    try:
        clean = normalize_email(address)
    except ValueError as error:
        raise ValueError(
            f"{value!r} is not an address such as Shop <shop@example.com> ({error})"
        ) from None
    return formataddr((name, clean)) if name else clean
