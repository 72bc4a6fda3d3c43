"""Teardown shared by the tests that build the shop's Flask app."""

from __future__ import annotations

from collections.abc import Iterable

from flask import Flask

from shop import jobs as shop_jobs
from sidequest.adapter import set_adapter
from web.services import services


def dispose_apps(apps: Iterable[Flask]) -> None:
    """Close each app's Redis client and database engine, then forget the job wiring."""
    for app in apps:
        with app.app_context():
            shop = services()
            shop.redis.close()
            bind = shop.session_factory.kw.get("bind")
            if bind is not None:
                bind.dispose()
    shop_jobs.reset()
    set_adapter(None)
