"""The dashboard's settings, read once: the host app's config first, then the environment.

SIDEQUEST_REDIS_URL                 Redis to inspect (default redis://127.0.0.1:6379/0)
SIDEQUEST_WEB_USERNAME              basic-auth user name  } both or neither
SIDEQUEST_WEB_PASSWORD              basic-auth password   }
SIDEQUEST_WEB_DEV                   on: a local development run may go without auth
                                    (on/off as every flag: sidequest.flags)
SIDEQUEST_WEB_PAGE_SIZE             default rows per page (10, 25, 50 or 100)
SIDEQUEST_WEB_FILTER_SCAN_LIMIT     entries one filter request examines at most
                                    (default 50,000: about 50 ms on an idle 2-core machine)
SIDEQUEST_WEB_BULK_LIMIT            entries one "retry all"/"kill all" request moves
"""

from __future__ import annotations

import os
from collections import ChainMap
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sidequest.connection import DEFAULT_URL
from sidequest.dashboard import params
from sidequest.errors import ConfigError
from sidequest.flags import flag

MAX_FILTER_SCAN_LIMIT = 1_000_000
MAX_BULK_LIMIT = 100_000
FILTER_MATCH_LIMIT = 500  # matches one filter request keeps (pages are cut from them)


@dataclass(frozen=True)
class DashboardConfig:
    redis_url: str = DEFAULT_URL
    username: str | None = None
    password: str | None = None
    dev: bool = False
    page_size: int = 25
    filter_scan_limit: int = 50_000
    bulk_limit: int = 10_000

    @property
    def basic_auth(self) -> bool:
        return self.username is not None


SETTING_PREFIX = "SIDEQUEST_"


def with_environment(config: Mapping[str, Any]) -> Mapping[str, Any]:
    """`config`, falling back to the process's SIDEQUEST_* environment variables: the
    README names the variables, and a host app should not have to copy them over."""
    environment = {k: v for k, v in os.environ.items() if k.startswith(SETTING_PREFIX)}
    return ChainMap(dict(config), environment)


def from_mapping(config: Mapping[str, Any]) -> DashboardConfig:
    """Validate the SIDEQUEST_* keys of `config`; raises ConfigError naming the key."""
    username = _text(config, "SIDEQUEST_WEB_USERNAME")
    password = _text(config, "SIDEQUEST_WEB_PASSWORD")
    if (username is None) != (password is None):
        raise ConfigError("set both SIDEQUEST_WEB_USERNAME and SIDEQUEST_WEB_PASSWORD, or neither")
    page_size = _number(config, "SIDEQUEST_WEB_PAGE_SIZE", 25, 1, max(params.PAGE_SIZES))
    if page_size not in params.PAGE_SIZES:
        raise ConfigError(
            f"SIDEQUEST_WEB_PAGE_SIZE must be one of {params.PAGE_SIZES}, got {page_size}"
        )
    return DashboardConfig(
        redis_url=_text(config, "SIDEQUEST_REDIS_URL") or DEFAULT_URL,
        username=username,
        password=password,
        dev=flag(config, "SIDEQUEST_WEB_DEV"),
        page_size=page_size,
        filter_scan_limit=_number(
            config, "SIDEQUEST_WEB_FILTER_SCAN_LIMIT", 50_000, 100, MAX_FILTER_SCAN_LIMIT
        ),
        bulk_limit=_number(config, "SIDEQUEST_WEB_BULK_LIMIT", 10_000, 1, MAX_BULK_LIMIT),
    )


def _text(config: Mapping[str, Any], key: str) -> str | None:
    value = config.get(key)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise ConfigError(f"{key} must be a string")
    return value


def _number(config: Mapping[str, Any], key: str, default: int, low: int, high: int) -> int:
    value = config.get(key)
    if value is None or value == "":
        return default
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{key} must be a whole number, got {value!r}") from None
    if not low <= number <= high:
        raise ConfigError(f"{key} must be between {low} and {high}, got {number}")
    return number
