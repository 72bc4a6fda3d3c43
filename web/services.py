"""The objects one web app works with, built once by `create_app` and kept per app.

They live in `app.extensions["shop"]` (Flask's place for per-app state); views reach
them with `services()`. Building them also points sidequest's `perform_later` at the
app's Redis and the shop jobs' wiring at the app's database, so that a job run inline
(tests, `flask shell`) sees the same data.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import dataclass

import redis
from flask import Flask, current_app
from sqlalchemy.exc import SQLAlchemyError

import sidequest
from shop import jobs as shop_jobs
from shop.db import SessionFactory, migrate, session_factory_for
from sidequest.client import RedisAdapter
from sidequest.connection import connect
from sidequest.outbox import PassResult, Relay
from web.settings import WebSettings

logger = logging.getLogger(__name__)

EXTENSION_KEY = "shop"
# A request waits at most this long for Redis; a hung server costs a quick 503, not a
# gunicorn worker timeout.
REDIS_SOCKET_TIMEOUT = 2.0


@dataclass(frozen=True)
class ShopServices:
    """Per-app state.

    Attributes:
        settings: The app's settings.
        session_factory: Sessions on the shop's database.
        redis: Client of the Redis jobs go to (also used by /readyz).
        relay: This process's outbox relay, when `settings.outbox_relay` is on.
    """

    settings: WebSettings
    session_factory: SessionFactory
    redis: redis.Redis
    relay: Relay | None = None

    def close(self) -> None:
        """Stop the relay, close the Redis client and dispose of the database engine."""
        if self.relay is not None:
            self.relay.stop()
        self.redis.close()
        bind = self.session_factory.kw.get("bind")
        if bind is not None:
            bind.dispose()


def init_services(app: Flask, settings: WebSettings) -> ShopServices:
    """Build the app's services, store them on `app` and wire sidequest and the jobs.

    Nothing connects yet (Redis and the database are reached on first use), except the
    schema upgrade when `settings.migrate_on_start` is set. A database that cannot be
    reached then is logged, not fatal: /readyz reports it and the app serves once the
    database is back.
    """
    if settings.migrate_on_start:
        try:
            migrate(settings.shop.database_url)
        except SQLAlchemyError as error:
            logger.error("could not upgrade the database schema at start-up: %s", error)
    client = connect(settings.redis_url, socket_timeout=REDIS_SOCKET_TIMEOUT)
    session_factory = session_factory_for(settings.shop.database_url)
    sidequest.configure(adapter=RedisAdapter(client))
    shop_jobs.configure(settings.shop, session_factory=session_factory)
    relay = None
    if settings.outbox_relay:
        # Jobs this process commits into the outbox are pushed by this thread, woken at
        # each commit; the workers' relays are the fallback (and the only relay when
        # OUTBOX_RELAY is off). gunicorn forks before it imports the app (no preload),
        # so the thread lives in the process that serves.
        relay = Relay(session_factory.kw["bind"], client, observer=_relay_observer()).start()
    built = ShopServices(
        settings=settings, session_factory=session_factory, redis=client, relay=relay
    )
    app.extensions[EXTENSION_KEY] = built
    return built


def _relay_observer() -> Callable[[PassResult], None] | None:
    """The relay's Prometheus metrics, where /metrics merges every process's files (the
    multiprocess mode of Compose and `make dev`); a single-process app does without."""
    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        return None
    from sidequest.metrics.outbox import relay_metrics  # noqa: PLC0415

    return relay_metrics().observe


def services() -> ShopServices:
    """The current app's services (inside a request or an app context)."""
    found = current_app.extensions[EXTENSION_KEY]
    assert isinstance(found, ShopServices)
    return found
