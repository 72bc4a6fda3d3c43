"""A worker process with the Prometheus middleware, as the worker tier wires it.

`python -m tests.integration.sidequest.metrics_worker [worker flags]`.
"""

from __future__ import annotations

import sys

import click

from sidequest.cli import run_worker
from sidequest.config import build_settings
from sidequest.metrics import PrometheusMiddleware


@click.command()
@click.option("-c", "--concurrency", type=int, default=5)
@click.option("-C", "--config", "config_file", help="a config file (periodic jobs, say)")
def main(concurrency: int, config_file: str | None) -> None:
    settings = build_settings(
        config_file=config_file,
        overrides={
            "concurrency": concurrency,
            "require": ["tests.integration.sidequest.fixture_jobs"],
            "log_level": "WARNING",
        },
    )
    sys.exit(run_worker(settings, [PrometheusMiddleware()]))


if __name__ == "__main__":
    main()
