"""Per-app dashboard state, kept in `app.extensions` (Flask's extension rule)."""

from __future__ import annotations

from dataclasses import dataclass

import redis
from flask import current_app

from sidequest.dashboard.config import DashboardConfig
from sidequest.dashboard.security import AuthHook

EXTENSION_KEY = "sidequest_dashboard"


@dataclass(frozen=True)
class DashboardState:
    config: DashboardConfig
    redis: redis.Redis
    auth: AuthHook | None
    url_prefix: str


def current() -> DashboardState:
    """The dashboard's state for the app handling the current request."""
    found: DashboardState = current_app.extensions[EXTENSION_KEY]
    return found
