"""The shop's web tier: a Flask app that schedules report and mail jobs.

    app = create_app()                      # configuration from the environment
    app = create_app({"REDIS_URL": ...})    # or with overrides (tests)

`web.wsgi:app` is what gunicorn serves (with web/gunicorn.conf.py); `flask --app web`
finds `create_app` for the CLI commands (`seed`, `enqueue-pending`). Configuration:
web/settings.py. This package and `worker` are the only places that read the
environment and wire objects together; they never import each other.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Flask

from sidequest.flags import flag
from web import cli, dashboard, errors, health, metrics, pages, reports_api, security, signups_api
from web.services import init_services
from web.settings import settings_from


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build the app.

    Args:
        config: Overrides of the environment variables listed in web/settings.py (and
            any other Flask config key, such as TESTING).

    Raises:
        ConfigError, SettingsError: A setting is malformed; the message names it.
    """
    overrides = dict(config or {})
    settings = settings_from({**os.environ, **_as_variables(overrides)})
    app = Flask(__name__)
    app.config.update(
        SECRET_KEY=settings.secret_key,
        MAX_CONTENT_LENGTH=settings.max_content_length,
        # Form fields and files count against the same cap as the whole body.
        MAX_FORM_MEMORY_SIZE=settings.max_content_length,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
    )
    app.config.update(overrides)
    app.json.sort_keys = False  # type: ignore[attr-defined]
    shop = init_services(app, settings)

    errors.register_error_handlers(app)
    security.install_security(app)
    app.register_blueprint(health.bp)
    app.register_blueprint(reports_api.bp)
    app.register_blueprint(signups_api.bp)
    app.register_blueprint(pages.bp)
    cli.register_commands(app)

    # The jobs dashboard (sidequest.dashboard) is mounted at /sidequest here, and only
    # here; /metrics (request metrics and the cluster-wide queue gauges) next to it.
    mounted = dashboard.mount_dashboard(app, settings, shop.redis)
    app.jinja_env.globals["dashboard_url"] = dashboard.URL_PREFIX + "/" if mounted else None
    # Last, so the request metrics wrap everything above and know every route.
    metrics.install_metrics(app, shop.redis, shop.session_factory.kw.get("bind"))
    _install_tracing(app, overrides, {**os.environ, **_as_variables(overrides)})
    return app


def _install_tracing(app: Flask, overrides: Mapping[str, Any], environ: Mapping[str, str]) -> None:
    """Request spans and traced enqueues: with SIDEQUEST_OTEL=1 (an OTLP/HTTP exporter,
    sidequest[otel]), or with a tracer provider given as config OTEL_TRACER_PROVIDER."""
    provider = overrides.get("OTEL_TRACER_PROVIDER")
    if provider is None and not flag(environ, "SIDEQUEST_OTEL"):
        return
    # Imported only when on: without the otel extra installed, nothing of it loads.
    import sidequest.tracing  # noqa: PLC0415
    from web.tracing import install_request_spans  # noqa: PLC0415

    if provider is None:
        provider = sidequest.tracing.sdk_provider("shop-web", environ)
        if provider is None:
            return
    sidequest.tracing.install(provider)
    install_request_spans(app, provider.get_tracer("web"))


def _as_variables(overrides: Mapping[str, Any]) -> dict[str, str]:
    """The overrides that are settings, written as environment variables would be."""
    variables = {}
    for key, value in overrides.items():
        if isinstance(value, bool):
            variables[key] = "true" if value else "false"
        elif isinstance(value, str | int | Path):
            variables[key] = str(value)
    return variables
