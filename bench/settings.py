"""What a run measures: systems, figures, workloads, sizes. Built by bench.cli."""

from __future__ import annotations

from dataclasses import dataclass

FIGURES = ("drain", "enqueue", "latency", "schedule", "commands", "memory", "periodic")
# Figures measured from drain runs (commands per job is read during the drain).
DRAIN_FIGURES = frozenset({"drain", "commands"})

# What a job does (bench/agents/workload.py): noop is figure 1's job; the others do I/O.
WORKLOADS = ("noop", "redis", "sleep", "sql")
IO_WORKLOADS = ("redis", "sleep", "sql")
# quiet: per-job log lines off everywhere (figure 1 as always); default: each system's own level.
LOGGINGS = ("quiet", "default")


@dataclass(frozen=True)
class Settings:
    systems: tuple[str, ...]
    figures: tuple[str, ...] = FIGURES
    n: int = 50_000
    repeats: int = 3
    # None: each system's own process counts (1 and 2; sidequest adds 4 for noop).
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
    workloads: tuple[str, ...] = WORKLOADS
    # None: noop at quiet only (figure 1, comparable with earlier runs), the I/O
    # workloads at both; given: every workload at these.
    logging: tuple[str, ...] | None = None
    # Jobs per I/O drain, and its cap: see bench/README.md for why these sizes.
    io_n: int = 20_000
    io_drain_cap: float = 4.0

    def wants(self, figure: str) -> bool:
        return figure in self.figures

    @property
    def drains(self) -> bool:
        return bool(DRAIN_FIGURES & set(self.figures))

    @property
    def noop_figures(self) -> bool:
        """Figures 1-6 (the no-op job at quiet logging) are part of this run."""
        return "noop" in self.workloads and "quiet" in self.loggings_of("noop")

    def loggings_of(self, workload: str) -> tuple[str, ...]:
        if self.logging is not None:
            return self.logging
        return ("quiet",) if workload == "noop" else LOGGINGS

    def io_plan(self) -> list[tuple[str, str]]:
        """(workload, logging) of every drain set beyond figure 1's, in measuring order."""
        if not self.drains:
            return []
        plan = []
        for workload in self.workloads:
            for logging in self.loggings_of(workload):
                if (workload, logging) != ("noop", "quiet"):
                    plan.append((workload, logging))
        return plan

    def n_of(self, workload: str) -> int:
        return self.n if workload == "noop" else self.io_n

    def cap_of(self, workload: str) -> float:
        return self.drain_cap if workload == "noop" else self.io_drain_cap
