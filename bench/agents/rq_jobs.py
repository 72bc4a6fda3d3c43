"""RQ's side of the benchmark job: a plain function, found by RQ through its dotted path."""

from __future__ import annotations

from bench.agents.workload import job


def noop(n: int) -> None:
    job(n)
