"""Mounting sidequest's dashboard (the Sidekiq-Web-like UI) at /sidequest.

This is the one place the web tier wires the dashboard in. It is mounted when
`sidequest.dashboard` is installed and a login is configured (SIDEQUEST_WEB_USERNAME
and SIDEQUEST_WEB_PASSWORD), or SIDEQUEST_WEB_DEV is on: this is a local run. Without
either, the shop still serves and the dashboard stays off, with a warning in the log:
a job UI that can delete and retry jobs is never exposed without a login.
"""

from __future__ import annotations

import importlib
import importlib.util
import logging

import redis
from flask import Flask

from web.settings import WebSettings

logger = logging.getLogger(__name__)

URL_PREFIX = "/sidequest"


def mount_dashboard(app: Flask, settings: WebSettings, client: redis.Redis) -> bool:
    """Register the dashboard blueprint on `app` if it can be; returns whether it was."""
    if importlib.util.find_spec("sidequest.dashboard") is None:
        return False
    has_login = "SIDEQUEST_WEB_USERNAME" in settings.dashboard
    if not has_login and not settings.dashboard_dev:
        logger.warning(
            "the jobs dashboard is off: set SIDEQUEST_WEB_USERNAME and SIDEQUEST_WEB_PASSWORD "
            "(or SIDEQUEST_WEB_DEV=1 on a local machine) to mount it at %s",
            URL_PREFIX,
        )
        return False
    app.config.update(settings.dashboard)
    extension = importlib.import_module("sidequest.dashboard")
    extension.Dashboard().init_app(app, url_prefix=URL_PREFIX, redis=client)
    return True
