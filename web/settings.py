"""The web tier's settings, read from the environment once per process.

| variable               | meaning                                              | default        |
|------------------------|------------------------------------------------------|----------------|
| REDIS_URL              | Redis the jobs are enqueued to                       | 127.0.0.1:6379 |
| SECRET_KEY             | signs the session cookie (the forms' CSRF tokens)    | random, warned |
| MAX_CONTENT_LENGTH     | largest request body accepted, bytes                 | 16384          |
| MIGRATE_ON_START       | upgrade the database schema when the app starts      | on             |
| OUTBOX_RELAY           | relay the outbox from this process too (a thread)    | on             |
| SIDEQUEST_WEB_USERNAME | dashboard login (with SIDEQUEST_WEB_PASSWORD)        | no dashboard   |
| SIDEQUEST_WEB_DEV      | mount the dashboard without a login (local runs)     | off            |

DATABASE_URL, SMTP_URL, REPORTS_DIR, APP_BASE_URL, MAIL_FROM and ADMIN_EMAIL are the
domain's (see `shop.settings`).
An empty variable counts as unset. On/off variables take 1/true/yes/on and
0/false/no/off in any case (`sidequest.flags`, the parser of every settings module).
`create_app(config)` overrides any of them.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from shop.settings import ShopSettings
from sidequest.connection import DEFAULT_URL, check_url
from sidequest.errors import ConfigError
from sidequest.flags import flag

logger = logging.getLogger(__name__)

DEFAULT_MAX_CONTENT_LENGTH = 16 * 1024
#: largest MAX_CONTENT_LENGTH accepted: the API takes small JSON bodies only
MAX_MAX_CONTENT_LENGTH = 10 * 1024 * 1024
#: dashboard settings passed through to `sidequest.dashboard` unchanged
DASHBOARD_VARIABLES = (
    "SIDEQUEST_WEB_USERNAME",
    "SIDEQUEST_WEB_PASSWORD",
    "SIDEQUEST_WEB_DEV",
    "SIDEQUEST_WEB_PAGE_SIZE",
    "SIDEQUEST_WEB_FILTER_SCAN_LIMIT",
    "SIDEQUEST_WEB_BULK_LIMIT",
)


@dataclass(frozen=True, repr=False)
class WebSettings:
    """Everything the web tier is configured with.

    Attributes:
        redis_url: Where jobs are enqueued.
        secret_key: Key that signs session cookies.
        max_content_length: Largest request body, in bytes.
        migrate_on_start: Whether the app upgrades the schema when it starts.
        outbox_relay: Whether this process runs an outbox relay thread (jobs committed
            here reach Redis within milliseconds, without waiting for a worker's poll).
        shop: The domain's settings (database, SMTP, reports directory, links).
        dashboard_dev: SIDEQUEST_WEB_DEV: mount the dashboard without a login.
        dashboard: The SIDEQUEST_WEB_* variables that were set, for the dashboard.
    """

    redis_url: str
    secret_key: str
    max_content_length: int
    migrate_on_start: bool
    shop: ShopSettings
    outbox_relay: bool = True
    dashboard_dev: bool = False
    dashboard: Mapping[str, str] = field(default_factory=dict)

    def __repr__(self) -> str:
        return (
            f"WebSettings(redis_url={self.redis_url!r}, max_content_length="
            f"{self.max_content_length}, migrate_on_start={self.migrate_on_start}, "
            f"shop={self.shop!r})"
        )


def log_settings(environ: Mapping[str, str]) -> tuple[str, str]:
    """LOG_FORMAT (text) and LOG_LEVEL (INFO), as the worker reads them."""
    return environ.get("LOG_FORMAT") or "text", environ.get("LOG_LEVEL") or "INFO"


def settings_from(environ: Mapping[str, Any]) -> WebSettings:
    """Build the settings from environment-style variables (values are strings or numbers).

    Raises:
        ConfigError: A variable is malformed; the message names it.
        SettingsError: A domain variable (DATABASE_URL, SMTP_URL, ...) is malformed.
    """
    values = {key: str(value).strip() for key, value in environ.items() if value is not None}
    redis_url = values.get("REDIS_URL") or DEFAULT_URL
    check_url(redis_url)
    secret_key = values.get("SECRET_KEY") or ""
    if not secret_key:
        # Sessions (and the forms' CSRF tokens) then last as long as this process and
        # are not shared by several gunicorn workers; gunicorn.conf.py sets one key for
        # all its workers when the variable is unset.
        logger.warning("SECRET_KEY is not set: using a random key for this process")
        secret_key = secrets.token_hex(32)
    return WebSettings(
        redis_url=redis_url,
        secret_key=secret_key,
        max_content_length=_size(values, "MAX_CONTENT_LENGTH", DEFAULT_MAX_CONTENT_LENGTH),
        migrate_on_start=flag(values, "MIGRATE_ON_START", default=True),
        shop=ShopSettings.from_env(values),
        outbox_relay=flag(values, "OUTBOX_RELAY", default=True),
        dashboard_dev=flag(values, "SIDEQUEST_WEB_DEV"),
        dashboard={key: values[key] for key in DASHBOARD_VARIABLES if values.get(key)},
    )


def _size(values: Mapping[str, str], name: str, default: int) -> int:
    text = values.get(name)
    if not text:
        return default
    if not text.isdigit() or not 1 <= int(text) <= MAX_MAX_CONTENT_LENGTH:
        raise ConfigError(f"{name} must be a number of bytes from 1 to {MAX_MAX_CONTENT_LENGTH}")
    return int(text)
