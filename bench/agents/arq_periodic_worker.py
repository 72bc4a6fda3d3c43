"""Starts an arq worker with the periodic benchmark's cron jobs, logging at WARNING."""

from __future__ import annotations

import logging

from arq.worker import run_worker  # type: ignore[import-not-found]

from bench.agents.arq_periodic import WorkerSettings

if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING)
    run_worker(WorkerSettings)
