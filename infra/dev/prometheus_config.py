"""prometheus.yml of the dev stack: the same jobs and rules as infra/prometheus, on loopback.

The Compose config discovers replicas through Docker's DNS; here there is one web
server and one worker exporter on known ports, so static targets are right. The job
names are the ones infra/prometheus/rules.yml and the Grafana dashboard select on
(`web`, `worker`), and the rules are the repository's own file, so the dev Prometheus
evaluates exactly the alerts Compose does.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from infra.dev.settings import DevSettings, duration_seconds

RULES = Path("infra/prometheus/rules.yml")
# Prometheus refuses a scrape timeout longer than the interval.
MAX_SCRAPE_TIMEOUT_SECONDS = 10


def scrape_timeout(interval: str) -> str:
    if duration_seconds(interval) <= MAX_SCRAPE_TIMEOUT_SECONDS:
        return interval
    return f"{MAX_SCRAPE_TIMEOUT_SECONDS}s"


def config(settings: DevSettings) -> dict[str, Any]:
    ports = settings.ports
    interval = settings.scrape_interval

    def job(name: str, port: int) -> dict[str, Any]:
        return {
            "job_name": name,
            "metrics_path": "/metrics",
            "static_configs": [{"targets": [f"127.0.0.1:{port}"]}],
        }

    return {
        "global": {
            "scrape_interval": interval,
            "scrape_timeout": scrape_timeout(interval),
            "evaluation_interval": interval,
            "external_labels": {"stack": "sidequest-dev"},
        },
        "rule_files": [str(settings.root / RULES)],
        "scrape_configs": [
            job("prometheus", ports.prometheus),
            job("worker", ports.worker_metrics),
            job("web", ports.web),
        ],
    }


def render(settings: DevSettings) -> str:
    header = "# Written by `make dev` (infra/dev/prometheus_config.py) at every start.\n"
    return header + yaml.safe_dump(config(settings), sort_keys=False)
