"""`python -m worker.metrics`: serve the merged metrics of this host's worker processes.

Listens on METRICS_HOST:METRICS_PORT (default 0.0.0.0:9191), path /metrics. Every
worker process writes its samples to PROMETHEUS_MULTIPROC_DIR; this process reads them
all at each scrape, so one scrape per host covers every process.
"""

from __future__ import annotations

import os
import signal
import sys
import threading

from sidequest.errors import ConfigError

# The port Compose exposes and Prometheus scrapes (job `worker`); tests/infra checks both.
DEFAULT_PORT = 9191


def main() -> int:
    from sidequest.metrics import serve_worker_metrics  # noqa: PLC0415 - reads the env first

    port = int(os.environ.get("METRICS_PORT", str(DEFAULT_PORT)))
    host = os.environ.get("METRICS_HOST", "0.0.0.0")
    try:
        server = serve_worker_metrics(port, host)
    except ConfigError as error:
        print(f"error: {error}", file=sys.stderr)
        return 78
    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    signal.signal(signal.SIGINT, lambda *_: stopped.set())
    print(f"worker metrics on http://{host}:{port}/metrics", file=sys.stderr, flush=True)
    stopped.wait()
    server.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
