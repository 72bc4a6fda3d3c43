"""The chaos run: N jobs under kills, terms, a freeze, network cuts and a Redis crash.

The short run is part of `make test`; `make chaos` runs the long one (20,000 jobs):

    CHAOS_PROFILE=long .venv/bin/pytest tests/chaos/test_chaos_run.py -p no:cacheprovider

CHAOS_SEED, CHAOS_JOBS and CHAOS_DURATION adjust either run (see config.py); without
CHAOS_SEED each run draws a seed and prints it.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.chaos import config as chaos_config
from tests.chaos.harness import ChaosRun, run_and_check


def _run(tmp_path: Path) -> None:
    config = chaos_config.from_environment()
    run_and_check("chaos", config, lambda: ChaosRun(config, tmp_path))


@pytest.mark.chaos
@pytest.mark.slow
@pytest.mark.timeout(240)
@pytest.mark.skipif(
    chaos_config.long_run_requested(), reason="CHAOS_PROFILE=long runs the long version"
)
def test_short_chaos_run_loses_nothing_and_explains_every_duplicate(tmp_path: Path) -> None:
    _run(tmp_path)


@pytest.mark.chaos
@pytest.mark.slow
@pytest.mark.timeout(3600)
@pytest.mark.skipif(
    not chaos_config.long_run_requested(), reason="set CHAOS_PROFILE=long (make chaos)"
)
def test_long_chaos_run_loses_nothing_and_explains_every_duplicate(tmp_path: Path) -> None:
    _run(tmp_path)
