"""`Dashboard`: the Flask extension that mounts the dashboard blueprint on an app.

    dashboard = Dashboard()
    dashboard.init_app(app, url_prefix="/sidequest", auth=lambda: current_user.is_admin)

Follows Flask's extension rules: no app is stored on the object, per-app state lives
in `app.extensions["sidequest_dashboard"]`, settings come from SIDEQUEST_* config keys
(config.py) read once here. One Dashboard object may serve several apps.
"""

from __future__ import annotations

import redis as redis_py
from flask import Flask

from sidequest.connection import connect
from sidequest.dashboard import config as dashboard_config
from sidequest.dashboard.blueprint import build_blueprint
from sidequest.dashboard.security import AuthHook
from sidequest.dashboard.state import EXTENSION_KEY, DashboardState
from sidequest.errors import ConfigError


class Dashboard:
    def __init__(
        self,
        app: Flask | None = None,
        *,
        url_prefix: str = "/sidequest",
        redis: redis_py.Redis | str | None = None,
        auth: AuthHook | None = None,
    ):
        if app is not None:
            self.init_app(app, url_prefix=url_prefix, redis=redis, auth=auth)

    def init_app(
        self,
        app: Flask,
        *,
        url_prefix: str = "/sidequest",
        redis: redis_py.Redis | str | None = None,
        auth: AuthHook | None = None,
    ) -> None:
        """Register the dashboard on `app` under `url_prefix`.

        Args:
            redis: the Redis to inspect, as a client or a URL; SIDEQUEST_REDIS_URL
                (then redis://127.0.0.1:6379/0) when omitted.
            auth: the host app's access check, called on every request (security.py);
                without it SIDEQUEST_WEB_USERNAME/PASSWORD must be set, or
                SIDEQUEST_WEB_DEV must say this is a local development run.

        Every SIDEQUEST_* setting is read from `app.config`, then from the environment.

        Raises:
            ConfigError: no authentication is configured outside a development run,
                the app has no SECRET_KEY (CSRF tokens live in its session), or a
                SIDEQUEST_* key is invalid.
        """
        if EXTENSION_KEY in app.extensions:
            raise ConfigError("the sidequest dashboard is already registered on this app")
        settings = dashboard_config.from_mapping(dashboard_config.with_environment(app.config))
        if auth is None and not settings.basic_auth and not settings.dev:
            raise ConfigError(
                "the sidequest dashboard needs authentication: set SIDEQUEST_WEB_USERNAME "
                "and SIDEQUEST_WEB_PASSWORD, pass auth= to init_app, or set "
                "SIDEQUEST_WEB_DEV=1 for a local development run"
            )
        if not app.secret_key:
            raise ConfigError(
                "the sidequest dashboard keeps its CSRF token in the session: set the app's "
                "SECRET_KEY before init_app"
            )
        prefix = "/" + url_prefix.strip("/") if url_prefix.strip("/") else ""
        if isinstance(redis, redis_py.Redis):
            client = redis
        else:
            source = "init_app(redis=...)" if redis else "SIDEQUEST_REDIS_URL"
            client = connect(redis or settings.redis_url, source=source)
        app.extensions[EXTENSION_KEY] = DashboardState(settings, client, auth, prefix)
        app.register_blueprint(build_blueprint(), url_prefix=prefix or None)
