"""Teardown shared by the tests that build the shop's Flask app."""

from __future__ import annotations

from collections.abc import Iterable

from flask import Flask

from shop import jobs as shop_jobs
from sidequest.adapter import set_adapter
from web.services import services


def dispose_apps(apps: Iterable[Flask]) -> None:
    """Stop each app's outbox relay, close its Redis client and database engine, then
    forget the job wiring."""
    for app in apps:
        with app.app_context():
            services().close()
    shop_jobs.reset()
    set_adapter(None)
