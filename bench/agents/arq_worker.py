"""Starts an arq worker with logging at WARNING.

The ``arq`` command line logs two INFO lines per job and has no switch to turn
them off; every other system runs without per-job log lines here, so arq is
started through its documented ``run_worker`` API instead.
"""

from __future__ import annotations

import logging

from arq.worker import run_worker  # type: ignore[import-not-found]

from bench.agents.arq_jobs import WorkerSettings

if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING)
    run_worker(WorkerSettings)
