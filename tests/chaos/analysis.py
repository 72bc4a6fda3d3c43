"""Judges a chaos run from its witness record and its fault log. Pure, no I/O.

A job is lost when no execution of it completed: for most jobs an execution that
returned, for a doomed job one that raised (it must then sit in the dead set, which
`inspection.py` checks).

Executions beyond what a job needs (one, or two for a job that fails once) are
duplicates. Every execution must either be one of those needed, or be explained by a
fault that hit it in flight: a fault on the process that ran it (SIGKILL, SIGTERM,
SIGSTOP, a network cut), or the Redis crash, which hits every process. "In flight"
spans from the fetch, which comes before the start, to the acknowledgement, which
comes after the end; the witness only sees start and end, so:
- the fault must begin no later than `ack_slack` after the execution ended (the ack
  was being written), or the execution never ended (it died with the process);
- the execution must start no later than `start_slack` after the fault ended: jobs
  fetched before a freeze or a cut still wait in the process's buffer afterwards.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

NEEDED = {"ok": 1, "flaky": 2, "doomed": 1}
COMPLETES_WITH = {"ok": "ok", "flaky": "ok", "doomed": "fail"}


@dataclass(frozen=True)
class Job:
    jid: str
    kind: str  # ok, flaky, doomed
    due: float = 0.0  # epoch seconds before which it must not start; 0 for "now"


@dataclass
class Execution:
    jid: str
    token: str
    pid: int
    start: float
    end: float | None = None
    outcome: str | None = None  # ok or fail


@dataclass(frozen=True)
class Fault:
    kind: str  # kill, term, freeze, stall, reset, redis-crash
    pid: int | None  # None: every process
    start: float
    end: float


@dataclass
class Verdict:
    jobs: int = 0
    executions: int = 0
    lost: list[str] = field(default_factory=list)
    duplicates: int = 0
    causes: Counter[str] = field(default_factory=Counter)
    unexplained: dict[str, list[Execution]] = field(default_factory=dict)
    early: list[str] = field(default_factory=list)
    strangers: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not (self.lost or self.unexplained or self.early or self.strangers)


def parse_events(lines: Iterable[bytes | str]) -> list[Execution]:
    """`s <jid> <token> <pid> <t>` and `e <jid> <token> <pid> <t> <outcome>` lines."""
    runs: dict[str, Execution] = {}
    for line in lines:
        text = line.decode() if isinstance(line, bytes) else line
        parts = text.split()
        kind, jid, token, pid, moment = parts[:5]
        run = runs.get(token)
        if run is None:
            run = runs[token] = Execution(jid, token, int(pid), float(moment))
        if kind == "s":
            run.start = float(moment)
        else:
            run.end = float(moment)
            run.outcome = parts[5]
    return list(runs.values())


def cause(
    run: Execution, faults: Sequence[Fault], ack_slack: float, start_slack: float
) -> str | None:
    """The fault that explains this execution being wasted, if any."""
    for fault in faults:
        if fault.pid is not None and fault.pid != run.pid:
            continue
        if run.start > fault.end + start_slack:
            continue
        if run.end is not None and run.end + ack_slack < fault.start:
            continue
        return fault.kind
    return None


def judge(
    jobs: Sequence[Job],
    executions: Sequence[Execution],
    faults: Sequence[Fault],
    *,
    ack_slack: float,
    start_slack: float,
) -> Verdict:
    verdict = Verdict(jobs=len(jobs), executions=len(executions))
    by_jid: dict[str, list[Execution]] = defaultdict(list)
    for run in executions:
        by_jid[run.jid].append(run)
    for job in jobs:
        runs = sorted(by_jid.pop(job.jid, []), key=lambda run: run.start)
        if not any(run.outcome == COMPLETES_WITH[job.kind] for run in runs):
            verdict.lost.append(job.jid)
        if job.due and runs and runs[0].start < job.due:
            verdict.early.append(job.jid)
        needed = NEEDED[job.kind]
        extra = max(0, len(runs) - needed)
        verdict.duplicates += extra
        causes = [cause(run, faults, ack_slack, start_slack) for run in runs]
        unexplained = [run for run, found in zip(runs, causes, strict=True) if found is None]
        if len(unexplained) > needed:
            verdict.unexplained[job.jid] = runs
        explained = [found for found in causes if found is not None]
        verdict.causes.update(explained[:extra])
    verdict.strangers = sorted(by_jid)
    return verdict
