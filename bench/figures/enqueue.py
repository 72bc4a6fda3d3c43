"""Figure 2, when no drain run provided the sample: enqueue N jobs into an empty server.

One at a time is N calls of the system's ordinary enqueue, each waiting for its
reply; bulk is the system's bulk API in batches of 1,000. Both loops are the
driver's (bench/agents/driver.py, sidekiq_driver.rb), identical for everyone.
"""

from __future__ import annotations

from bench.figures.context import Context
from bench.samples import EnqueueSample
from bench.systems.base import System


def run_enqueue(ctx: Context, system: System, mode: str, repeat: int) -> EnqueueSample:
    n = ctx.settings.n
    label = f"{system.name}-enqueue-{mode}-r{repeat}"
    ctx.server.reset()
    answer = ctx.produce(
        system,
        label,
        "enqueue",
        "--mode",
        mode,
        "--count",
        str(n),
        "--first",
        "0",
        timeout=max(600.0, n / 50),
    )
    ctx.server.reset()
    return EnqueueSample(system.name, mode, repeat, n, float(answer["seconds"]))
