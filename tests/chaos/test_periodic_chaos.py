"""The periodic chaos run: 10,000 ticks of `every: 1` schedules under kills, terms, a
freeze, network cuts and a Redis crash with AOF (periodic_harness.py).

The short run (200 schedules x 50 s) is part of `make test`; `make chaos` runs the long
one (200 x 240 s):

    CHAOS_PROFILE=long .venv/bin/pytest tests/chaos/test_periodic_chaos.py -p no:cacheprovider

CHAOS_SEED, CHAOS_SCHEDULES and CHAOS_DURATION adjust either run (periodic_config.py).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.chaos import config as chaos_config
from tests.chaos import periodic_config
from tests.chaos.conftest import REPORTS
from tests.chaos.periodic_harness import PeriodicChaosRun


def _run(tmp_path: Path) -> None:
    config = periodic_config.from_environment()
    print(f"periodic chaos seed {config.seed}: replay with CHAOS_SEED={config.seed}", flush=True)
    REPORTS.append(f"periodic chaos seed {config.seed}")
    report = PeriodicChaosRun(config, tmp_path).run()
    text = report.format()
    REPORTS[-1] = text
    print(text)
    verdict = report.verdict
    assert verdict.ticks == config.ticks, text
    assert verdict.unaccounted == [], text
    assert verdict.off_policy == [], text
    assert verdict.unsettled == [], text
    assert verdict.lost == [], text
    assert verdict.duplicated == [], text
    assert verdict.enqueued + verdict.dropped == verdict.ticks, text
    assert report.ok, text


@pytest.mark.chaos
@pytest.mark.slow
@pytest.mark.timeout(300)
@pytest.mark.skipif(
    chaos_config.long_run_requested(), reason="CHAOS_PROFILE=long runs the long version"
)
def test_short_periodic_chaos_run_settles_every_tick_once_and_counts_every_missed_one(
    tmp_path: Path,
) -> None:
    _run(tmp_path)


@pytest.mark.chaos
@pytest.mark.slow
@pytest.mark.timeout(1800)
@pytest.mark.skipif(
    not chaos_config.long_run_requested(), reason="set CHAOS_PROFILE=long (make chaos)"
)
def test_long_periodic_chaos_run_settles_every_tick_once_and_counts_every_missed_one(
    tmp_path: Path,
) -> None:
    _run(tmp_path)
