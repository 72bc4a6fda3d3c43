"""sidequest's performance targets (issue 7), checked against a run's medians.

Each check returns the target, what was measured, and whether it was met;
a check whose figures were not measured in this run is left out.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TypeVar

from bench.samples import Results

T = TypeVar("T")

SUBJECT = "sidequest"
PEER = "sidekiq"
PYTHON_PEERS = ("rq", "rq-simple", "celery", "dramatiq", "arq", "huey")


@dataclass(frozen=True)
class Check:
    target: str
    measured: str
    met: bool


def _median(items: Iterable[T], value: Callable[[T], float]) -> float | None:
    values = [value(item) for item in items]
    return statistics.median(values) if values else None


def _drain(results: Results, system: str, procs: int) -> float | None:
    return _median(
        (d for d in results.drains if d.system == system and d.procs == procs), lambda d: d.rate
    )


def _drain_checks(results: Results) -> list[Check]:
    checks = []
    for procs in (1, 2):
        ours = _drain(results, SUBJECT, procs)
        if ours is None:
            continue
        theirs = _drain(results, PEER, procs)
        if theirs:
            ratio = ours / theirs
            checks.append(
                Check(
                    f"drain >= 2x Sidekiq, {procs} process(es)",
                    f"{ours:,.0f} vs {theirs:,.0f} jobs/s = {ratio:.2f}x",
                    ratio >= 2,
                )
            )
        peers = {p: _drain(results, p, procs) for p in PYTHON_PEERS}
        best = max(((r, p) for p, r in peers.items() if r), default=None)
        if best:
            ratio = ours / best[0]
            checks.append(
                Check(
                    f"drain >= 5x the best Python peer, {procs} process(es)",
                    f"{ours:,.0f} vs {best[1]} {best[0]:,.0f} jobs/s = {ratio:.2f}x",
                    ratio >= 5,
                )
            )
    return checks


def _delay_checks(results: Results) -> list[Check]:
    checks = []
    latency = [d for d in results.delays if d.system == SUBJECT and d.kind == "latency"]
    if latency:
        p50 = _median(latency, lambda d: d.p50) or 0.0
        p99 = _median(latency, lambda d: d.p99) or 0.0
        checks.append(Check("start latency p50 <= 0.5 ms", f"{p50 * 1e3:.2f} ms", p50 <= 0.0005))
        checks.append(Check("start latency p99 <= 1 ms", f"{p99 * 1e3:.2f} ms", p99 <= 0.001))
    schedule = [d for d in results.delays if d.system == SUBJECT and d.kind == "schedule"]
    if schedule:
        p99 = _median(schedule, lambda d: d.p99) or 0.0
        early = sum(d.early for d in schedule)
        checks.append(Check("scheduled lateness p99 <= 10 ms", f"{p99 * 1e3:.1f} ms", p99 <= 0.01))
        checks.append(Check("no scheduled job starts early", f"{early} early", early == 0))
    return checks


def _other_checks(results: Results) -> list[Check]:
    checks = []
    drains = [d for d in results.drains if d.system == SUBJECT]
    if drains:
        worst = max(
            statistics.median(d.commands_per_job for d in drains if d.procs == procs)
            for procs in {d.procs for d in drains}
        )
        checks.append(
            Check("<= 1 Redis command per job (drain)", f"{worst:.2f} (worst config)", worst <= 1)
        )
    bulk = _median(
        (e for e in results.enqueues if e.system == SUBJECT and e.mode == "bulk"), lambda e: e.rate
    )
    if bulk is not None:
        checks.append(Check("bulk enqueue >= 100,000 jobs/s", f"{bulk:,.0f} jobs/s", bulk >= 1e5))
    rss = _median((m for m in results.memory if m.system == SUBJECT), lambda m: m.rss)
    if rss is not None:
        checks.append(Check("idle worker RSS <= 40 MB", f"{rss / 2**20:.1f} MB", rss <= 40 * 2**20))
    return checks


def check(results: Results) -> list[Check]:
    return _drain_checks(results) + _delay_checks(results) + _other_checks(results)
