"""sidequest's performance targets (issues 7, 13 and 16), checked against a run's medians.

Each check returns the target, what was measured, and whether it was met;
a check whose figures were not measured in this run is left out. Issue 7's
concern the no-op job at quiet logging (figures 1-6); issue 13's the I/O
workloads (figure 7); issue 16's periodic jobs (figure 8).
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TypeVar

from bench.samples import DrainSample, Results

T = TypeVar("T")

SUBJECT = "sidequest"
PEER = "sidekiq"
PYTHON_PEERS = ("rq", "rq-simple", "celery", "dramatiq", "arq", "huey")
# sidequest's no-op drain before the I/O workloads existed (issue 13: no regression
# from its *ratios*): sidequest ÷ Sidekiq in bench/results/2026-11-28-vm.json. Ratios,
# not jobs/s, because a machine of the same kind can be several times faster or slower
# (Sidekiq itself drained 12,588 no-op jobs/s there and 3,839 on 2026-12-02). A ratio
# within 10% of the reference counts as no regression: the spread between repeats.
NOOP_REFERENCE = {1: 29_029.0 / 12_588.0, 2: 65_578.0 / 22_183.0}
NOOP_REFERENCE_RUN = "2026-11-28-vm"
NOOP_TOLERANCE = 0.9
# The sleep workload's ideal: 10 threads each finishing a 1 ms job back to back.
SLEEP_IDEAL_PER_PROCESS = 10 / 0.001


@dataclass(frozen=True)
class Check:
    target: str
    measured: str
    met: bool


def _median(items: Iterable[T], value: Callable[[T], float]) -> float | None:
    values = [value(item) for item in items]
    return statistics.median(values) if values else None


def _drain(
    results: Results, system: str, procs: int, workload: str = "noop", logging: str = "quiet"
) -> float | None:
    return _median(_runs(results, system, procs, workload, logging), lambda d: d.rate)


def _runs(
    results: Results, system: str, procs: int, workload: str, logging: str
) -> list[DrainSample]:
    """A system's drains of one configuration; a system whose default logging is its
    quiet one was measured once, at quiet, for both."""
    found = [d for d in results.drains if d.system == system and d.procs == procs]
    if logging == "default" and _quiet_by_default(results, system):
        logging = "quiet"
    return [d for d in found if d.of(workload, logging)]


def _quiet_by_default(results: Results, system: str) -> bool:
    return any(s.name == system and s.quiet_by_default for s in results.systems)


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
    drains = [d for d in results.drains if d.system == SUBJECT and d.of("noop", "quiet")]
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
    """Issue 7's targets."""
    return _drain_checks(results) + _delay_checks(results) + _other_checks(results)


# Issue 13: the I/O workloads ---------------------------------------------------------------


def _vs_sidekiq(results: Results, workload: str, least: float) -> list[Check]:
    checks = []
    for logging in ("quiet", "default"):
        for procs in (1, 2):
            ours = _drain(results, SUBJECT, procs, workload, logging)
            theirs = _drain(results, PEER, procs, workload, logging)
            if ours is None or not theirs:
                continue
            ratio = ours / theirs
            checks.append(
                Check(
                    f"{workload}: >= {least:g}x Sidekiq, {procs} process(es), {logging} logging",
                    f"{ours:,.0f} vs {theirs:,.0f} jobs/s = {ratio:.2f}x",
                    ratio >= least,
                )
            )
    return checks


def _sleep_checks(results: Results) -> list[Check]:
    checks = []
    for logging in ("quiet", "default"):
        ours = _drain(results, SUBJECT, 1, "sleep", logging)
        if ours is None:
            continue
        share = ours / SLEEP_IDEAL_PER_PROCESS
        checks.append(
            Check(
                f"sleep: >= 90% of the ideal (10 threads / 1 ms), 1 process, {logging} logging",
                f"{ours:,.0f} of {SLEEP_IDEAL_PER_PROCESS:,.0f} jobs/s = {share:.0%}",
                share >= 0.9,
            )
        )
    return checks


def _logging_cost_checks(results: Results) -> list[Check]:
    checks = []
    for procs in (1, 2):
        quiet = _drain(results, SUBJECT, procs, "redis", "quiet")
        loud = _drain(results, SUBJECT, procs, "redis", "default")
        if not quiet or loud is None:
            continue
        cost = 1 - loud / quiet
        checks.append(
            Check(
                f"redis: INFO logging costs <= 10% against quiet, {procs} process(es)",
                f"{loud:,.0f} vs {quiet:,.0f} jobs/s: costs {cost:.1%}",
                cost <= 0.10,
            )
        )
    return checks


def _noop_regression_checks(results: Results) -> list[Check]:
    checks = []
    for procs, before in NOOP_REFERENCE.items():
        ours, theirs = _drain(results, SUBJECT, procs), _drain(results, PEER, procs)
        if ours is None or theirs is None:
            continue
        ratio = ours / theirs
        checks.append(
            Check(
                f"noop: no regression of the ratio to Sidekiq, {procs} process(es) "
                f"(within 10% of {before:.2f}x in {NOOP_REFERENCE_RUN})",
                f"{ours:,.0f} vs {theirs:,.0f} jobs/s = {ratio:.2f}x",
                ratio >= NOOP_TOLERANCE * before,
            )
        )
    return checks


def check_io(results: Results) -> list[Check]:
    """Issue 13's targets: only when the run measured an I/O workload."""
    if not any(d.workload != "noop" for d in results.drains):
        return []
    return (
        _vs_sidekiq(results, "redis", 2.0)
        + _sleep_checks(results)
        + _vs_sidekiq(results, "sql", 1.5)
        + _noop_regression_checks(results)
        + _logging_cost_checks(results)
    )


#: issue 16: tick to job start with two scheduler instances
PERIODIC_P99_SECONDS = 0.005


def check_periodic(results: Results) -> list[Check]:
    """Issue 16's targets: only when the run measured sidequest's periodic figure."""
    ours = [p for p in results.periodic if p.system == SUBJECT]
    if not ours:
        return []
    p99 = max(p.p99 for p in ours)
    duplicated = sum(p.duplicated for p in ours)
    missed = sum(p.missed for p in ours)
    return [
        Check(
            f"periodic lateness p99 <= {PERIODIC_P99_SECONDS * 1000:.0f} ms",
            f"{p99 * 1000:.1f} ms (p50 {max(p.p50 for p in ours) * 1000:.1f} ms)",
            p99 <= PERIODIC_P99_SECONDS,
        ),
        Check("0 duplicated ticks", str(duplicated), duplicated == 0),
        Check("0 missed ticks", str(missed), missed == 0),
    ]
