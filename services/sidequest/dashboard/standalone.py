"""`sidequest web`: the dashboard as an app of its own, for teams without a Flask app.

Settings come from flags and the environment: REDIS_URL (or --redis-url),
SIDEQUEST_WEB_USERNAME / SIDEQUEST_WEB_PASSWORD for basic auth, SIDEQUEST_WEB_DEV=on
(or --dev) for a local development run without auth, SIDEQUEST_WEB_SECRET to keep
sessions valid across restarts (a random one per process otherwise). It serves with
Werkzeug's threaded server: enough for the handful of people who watch a job system;
mount `Dashboard` in your gunicorn-served app for anything more.
"""

from __future__ import annotations

import ipaddress
import os
import secrets
import signal
import sys
from collections.abc import Mapping
from types import FrameType

import click
from flask import Flask
from werkzeug.serving import make_server

from sidequest.connection import redact
from sidequest.dashboard.extension import Dashboard
from sidequest.dashboard.state import EXTENSION_KEY, DashboardState
from sidequest.errors import ConfigError

ENVIRONMENT_KEYS = (
    "SIDEQUEST_WEB_USERNAME",
    "SIDEQUEST_WEB_PASSWORD",
    "SIDEQUEST_WEB_DEV",
    "SIDEQUEST_WEB_PAGE_SIZE",
    "SIDEQUEST_WEB_FILTER_SCAN_LIMIT",
    "SIDEQUEST_WEB_BULK_LIMIT",
)


def create_app(
    redis_url: str,
    *,
    dev: bool = False,
    environ: Mapping[str, str] | None = None,
) -> Flask:
    """A Flask app serving only the dashboard, at the root."""
    environment = os.environ if environ is None else environ
    app = Flask("sidequest.dashboard.standalone", static_folder=None)
    app.secret_key = environment.get("SIDEQUEST_WEB_SECRET") or secrets.token_hex(32)
    app.config.update(
        {key: environment[key] for key in ENVIRONMENT_KEYS if environment.get(key)},
        SIDEQUEST_REDIS_URL=redis_url,
        SESSION_COOKIE_NAME="sidequest_session",
        SESSION_COOKIE_SAMESITE="Strict",
        SESSION_COOKIE_HTTPONLY=True,
        MAX_CONTENT_LENGTH=1024 * 1024,
    )
    if dev:
        app.config["SIDEQUEST_WEB_DEV"] = True
    Dashboard().init_app(app, url_prefix="/")
    return app


def check_host(host: str, dev_without_auth: bool) -> None:
    """A development run without auth may only listen on a loopback address."""
    if not dev_without_auth:
        return
    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        raise ConfigError(
            f"refusing to serve the dashboard without authentication on {host}: set "
            "SIDEQUEST_WEB_USERNAME and SIDEQUEST_WEB_PASSWORD, or listen on 127.0.0.1"
        )


def run(host: str, port: int, redis_url: str, dev: bool) -> None:
    app = create_app(redis_url, dev=dev)
    # The settings the dashboard parsed (--dev, or SIDEQUEST_WEB_DEV through the one
    # flag parser), so the host check and the dashboard never disagree about dev mode.
    state: DashboardState = app.extensions[EXTENSION_KEY]
    check_host(host, state.config.dev and not state.config.basic_auth)
    server = make_server(host, port, app, threaded=True)

    def on_stop(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_stop)
    shown_host = f"[{host}]" if ":" in host else host
    click.echo(
        f"sidequest dashboard on http://{shown_host}:{server.port}/ reading {redact(redis_url)}"
    )
    sys.stdout.flush()
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
