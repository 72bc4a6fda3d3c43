"""gunicorn settings for the web tier, from the environment.

| variable                  | setting                              | default      |
|---------------------------|--------------------------------------|--------------|
| BIND                      | bind (host:port)                     | 0.0.0.0:PORT |
| PORT                      | port when BIND is unset              | 8000         |
| GUNICORN_WORKERS          | worker processes                     | 2            |
| GUNICORN_THREADS          | threads per worker (gthread)         | 4            |
| GUNICORN_TIMEOUT          | seconds a request may take           | 30           |
| GUNICORN_GRACEFUL_TIMEOUT | seconds to finish requests on TERM   | 30           |
| GUNICORN_ACCESS_LOG       | access log file, "-" for stdout, "" for none | -    |
| PROMETHEUS_MULTIPROC_DIR  | turns on prometheus_client's multiprocess clean-up | unset |

Compose's `stop_grace_period` for web (35 s) is longer than the graceful timeout, so
requests in flight finish before the container is killed.
"""

from __future__ import annotations

import importlib
import os
import secrets
import sys
from typing import Any


def _number(name: str, default: int, low: int, high: int) -> int:
    text = os.environ.get(name, "").strip()
    if not text:
        return default
    if not text.isdigit() or not low <= int(text) <= high:
        raise ValueError(f"{name} must be a whole number from {low} to {high}, got {text!r}")
    return int(text)


bind = os.environ.get("BIND", "").strip() or f"0.0.0.0:{_number('PORT', 8000, 1, 65535)}"
workers = _number("GUNICORN_WORKERS", 2, 1, 64)
threads = _number("GUNICORN_THREADS", 4, 1, 256)
worker_class = "gthread"
timeout = _number("GUNICORN_TIMEOUT", 30, 1, 3600)
graceful_timeout = _number("GUNICORN_GRACEFUL_TIMEOUT", 30, 1, 3600)
keepalive = 5
# No worker recycling: every new pid adds files to PROMETHEUS_MULTIPROC_DIR that each
# scrape reads, and recycled workers would make that directory grow without bound.
max_requests = 0
accesslog = os.environ.get("GUNICORN_ACCESS_LOG", "-").strip() or None
errorlog = "-"
capture_output = True
proc_name = "sidequest-web"

if not os.environ.get("SECRET_KEY", "").strip():
    # Set in the master before it forks, so every worker signs sessions with one key
    # (per-worker random keys would reject forms rendered by another worker).
    os.environ["SECRET_KEY"] = secrets.token_hex(32)
    print(
        "gunicorn.conf.py: SECRET_KEY is not set; sessions last until the next restart",
        file=sys.stderr,
    )


def _refuse_bad_settings() -> None:
    """Check the web tier's settings once, in the master, before any worker forks: a bad
    value then stops gunicorn with one line and status 78 (EX_CONFIG), instead of every
    worker dying with a traceback and gunicorn saying only "Worker failed to boot"."""
    # Imported here: the numbers above must be read even where the app is not installed.
    from shop.errors import SettingsError  # noqa: PLC0415
    from sidequest import logs  # noqa: PLC0415
    from sidequest.errors import ConfigError  # noqa: PLC0415
    from web.settings import log_settings, settings_from  # noqa: PLC0415

    try:
        logs.checked(*log_settings(os.environ))
        settings_from(os.environ)
    except (ConfigError, SettingsError) as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(78)


_refuse_bad_settings()


def child_exit(server: Any, worker: Any) -> None:
    """Drop a dead worker's live gauges from prometheus_client's multiprocess files."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        # Imported here: without multiprocess mode the web tier need not load it.
        multiprocess = importlib.import_module("prometheus_client.multiprocess")
        multiprocess.mark_process_dead(worker.pid)
