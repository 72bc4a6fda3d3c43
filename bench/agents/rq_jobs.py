"""RQ's side of the benchmark job: a plain function, found by RQ through its dotted path."""

from __future__ import annotations

from bench.agents.record import record


def noop(n: int) -> None:
    record(n)
