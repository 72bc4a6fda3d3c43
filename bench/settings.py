"""What a run measures: systems, figures, sizes. Built by bench.cli from the command line."""

from __future__ import annotations

from dataclasses import dataclass

FIGURES = ("drain", "enqueue", "latency", "schedule", "commands", "memory")
# Figures measured from drain runs (commands per job is read during the drain).
DRAIN_FIGURES = frozenset({"drain", "commands"})


@dataclass(frozen=True)
class Settings:
    systems: tuple[str, ...]
    figures: tuple[str, ...] = FIGURES
    n: int = 50_000
    repeats: int = 3
    # None: each system's own process counts (1 and 2; sidequest adds 4).
    procs: tuple[int, ...] | None = None
    latency_jobs: int = 2_000
    latency_rate: float = 200.0
    schedule_jobs: int = 200
    schedule_min_ahead: float = 2.0
    schedule_max_ahead: float = 12.0
    # A drain stops after this many seconds from worker start; slower systems are
    # measured on the jobs done by then (marked "capped" in the report).
    drain_cap: float = 20.0
    # How long to wait for stragglers after the last latency job was sent, or
    # after the last scheduled job was due.
    straggler_wait: float = 10.0
    baseline: str = "sidequest"
    quick: bool = False

    def wants(self, figure: str) -> bool:
        return figure in self.figures

    @property
    def drains(self) -> bool:
        return bool(DRAIN_FIGURES & set(self.figures))
