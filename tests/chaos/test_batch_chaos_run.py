"""The batch chaos run: 1,000 batches under the chaos plan, each callback pushed once.

The default profile (in `make test`) deals the short chaos run's jobs into 1,000
batches of 1-4 jobs, run by three worker processes; `CHAOS_PROFILE=long` (`make chaos`)
runs 1,000 batches of 1-50 jobs, as issue 18 states it. CHAOS_SEED replays a run.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from tests.chaos import config as chaos_config
from tests.chaos.batch_chaos import BatchChaosRun
from tests.chaos.harness import run_and_check

BATCHES = 1000


def _run(tmp_path: Path, sizes: tuple[int, int]) -> None:
    config = chaos_config.from_environment()
    # As many jobs as the batches hold on average, three workers.
    config = replace(config, jobs=round(BATCHES * sum(sizes) / 2), workers=3)
    run_and_check("batch chaos", config, lambda: BatchChaosRun(config, tmp_path, BATCHES, sizes))


@pytest.mark.chaos
@pytest.mark.slow
@pytest.mark.timeout(240)
@pytest.mark.skipif(
    chaos_config.long_run_requested(), reason="CHAOS_PROFILE=long runs the long version"
)
def test_batch_chaos_run_pushes_each_callback_once(tmp_path: Path) -> None:
    _run(tmp_path, (1, 4))


@pytest.mark.chaos
@pytest.mark.slow
@pytest.mark.timeout(3600)
@pytest.mark.skipif(
    not chaos_config.long_run_requested(), reason="set CHAOS_PROFILE=long (make chaos)"
)
def test_long_batch_chaos_run_pushes_each_callback_once(tmp_path: Path) -> None:
    _run(tmp_path, (1, 50))
