"""Starts an arq worker with logging at WARNING (the benchmark's quiet logging).

The ``arq`` command line logs two INFO lines per job and has no switch to turn
them off, so quiet runs start arq through its documented ``run_worker`` API
instead; default-logging runs use the ``arq`` command itself.
"""

from __future__ import annotations

import logging

from arq.worker import run_worker  # type: ignore[import-not-found]

from bench.agents.arq_jobs import WorkerSettings

if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING)
    run_worker(WorkerSettings)
