"""`python -m worker`: one sidequest worker process running the shop's jobs.

Reads the environment (this is a composition root): REDIS_URL and SIDEQUEST_* for the
worker, DATABASE_URL, SMTP_URL, REPORTS_DIR ... for the jobs (`shop.settings`), and
SIDEQUEST_CONFIG for the queue file (default: worker/sidequest.yml). Records Prometheus
metrics when PROMETHEUS_MULTIPROC_DIR is set. Every worker process relays the shop's
outbox (jobs the web tier committed with its data) to Redis, unless OUTBOX_RELAY is off.
SIDEQUEST_OTEL=1 traces the jobs (`sidequest[otel]`, OTLP/HTTP to OTEL_EXPORTER_OTLP_ENDPOINT).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from sidequest.cli import EX_CONFIG, run_worker
from sidequest.config import build_settings
from sidequest.connection import connect
from sidequest.errors import ConfigError
from sidequest.flags import flag
from sidequest.middleware import Middleware

DEFAULT_CONFIG = Path(__file__).with_name("sidequest.yml")


def middleware() -> list[Middleware]:
    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        return []
    # Imported only here: prometheus_client reads PROMETHEUS_MULTIPROC_DIR at import.
    from sidequest.metrics import PrometheusMiddleware  # noqa: PLC0415

    return [PrometheusMiddleware()]


def main() -> int:
    from shop import jobs  # noqa: PLC0415 - importing registers every job class
    from shop.db import migrate  # noqa: PLC0415
    from shop.settings import ShopSettings  # noqa: PLC0415

    try:
        settings = build_settings(
            config_file=os.environ.get("SIDEQUEST_CONFIG") or DEFAULT_CONFIG,
            overrides={"require": ["shop.jobs"]},
        )
        shop_settings = ShopSettings.from_env()
        migrate(shop_settings.database_url)
        wiring = jobs.configure(shop_settings)
        relaying = flag(os.environ, "OUTBOX_RELAY", default=True)
    except ConfigError as error:
        print(f"error: {error}", file=sys.stderr)
        return EX_CONFIG
    extra = middleware()
    if flag(os.environ, "SIDEQUEST_OTEL"):
        # Imported only when on: the otel extra need not be installed otherwise.
        import sidequest.tracing  # noqa: PLC0415

        traced = sidequest.tracing.sdk_from_environment("shop-worker")
        if traced is not None:
            extra.append(traced)
    if relaying:
        from sidequest.outbox import Relay, RelayMiddleware  # noqa: PLC0415

        engine = wiring.session_factory.kw["bind"]
        observer = None
        if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            from sidequest.metrics.outbox import relay_metrics  # noqa: PLC0415

            observer = relay_metrics().observe
        relay = Relay(engine, connect(settings.redis_url), observer=observer)
        extra.append(RelayMiddleware(relay))
    return run_worker(settings, extra)


if __name__ == "__main__":
    sys.exit(main())
