"""Judges a chaos run from its witness record, Redis's ledger and its fault log. Pure.

The witness records every execution (start, end, how it ended, which process ran it);
the ledger (`ledger.py`, read from the job Redis's AOF) says which outcomes Redis
**accepted**; a refused (fenced) outcome is no completion. So:

- a job is lost unless an execution of it completed and Redis accepted that outcome:
  for most jobs a success, for a doomed job a failure (it must then sit in the dead
  set, which `inspection.py` checks);
- a job whose final outcome Redis accepted more than once ran to completion twice: never
  allowed, whatever the faults (a flaky job's one accepted failure is not final);
- every execution whose outcome was not accepted (it never ended, or Redis refused its
  outcome) is a duplicate, and must be explained by a fault that hit the process that
  held the job: the fault's record names the jobs that process held (in its in-flight
  hash or landing list) while the fault lasted. The Redis crash hits every process: it
  names the jobs whose writes it dropped, and those each process held until every
  process beat again;
- an accepted outcome with no finished execution of that process behind it is a
  phantom: Redis recorded work nobody did.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

#: executions a job needs: a flaky job fails once (its retry accepted), then succeeds
NEEDED = {"ok": 1, "flaky": 2, "doomed": 1}
COMPLETES_WITH = {"ok": "ok", "flaky": "ok", "doomed": "fail"}
#: accepted(pid, jid, kind): outcomes of that kind ("ok" or "fail") Redis accepted
Accepted = Callable[[int, str, str], int]


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
    accepted: bool = False  # Redis accepted its outcome (set by `judge`)


@dataclass(frozen=True)
class Fault:
    kind: str  # kill, term, freeze, stall, reset, redis-crash
    pid: int | None  # None: every process
    start: float
    end: float
    #: the jobs the process held (in flight) while the fault lasted
    held: frozenset[str] = frozenset()


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
    #: jobs whose final outcome Redis accepted more than once
    twice: list[str] = field(default_factory=list)
    #: (pid, jid, kind): outcomes Redis accepted beyond the finished executions behind them
    phantoms: list[tuple[int, str, str]] = field(default_factory=list)
    #: lost jobs that did complete, but whose every outcome Redis refused
    refused_only: list[str] = field(default_factory=list)
    accepted: int = 0

    @property
    def ok(self) -> bool:
        return not (
            self.lost
            or self.unexplained
            or self.early
            or self.strangers
            or self.twice
            or self.phantoms
        )


def parse_events(lines: Iterable[bytes | str]) -> list[Execution]:
    """`s <jid> <token> <pid> <t>` and `e <jid> <token> <pid> <t> <outcome>` lines."""
    # Keyed by jid and token: tokens are 32 random bits, and among the ~27,000
    # executions of a long batch chaos run two of them collide now and then, which
    # keyed by token alone merged two jobs' executions into one.
    runs: dict[tuple[str, str], Execution] = {}
    for line in lines:
        text = line.decode() if isinstance(line, bytes) else line
        parts = text.split()
        kind, jid, token, pid, moment = parts[:5]
        run = runs.get((jid, token))
        if run is None:
            run = runs[(jid, token)] = Execution(jid, token, int(pid), float(moment))
        if kind == "s":
            run.start = float(moment)
        else:
            run.end = float(moment)
            run.outcome = parts[5]
    return list(runs.values())


def cause(run: Execution, faults: Sequence[Fault]) -> str | None:
    """The fault that hit the process holding this execution's job, if any."""
    for fault in faults:
        if (fault.pid is None or fault.pid == run.pid) and run.jid in fault.held:
            return fault.kind
    return None


def mark_accepted(runs: Sequence[Execution], accepted: Accepted) -> list[tuple[int, str, str]]:
    """Flag the runs whose outcome Redis accepted; returns the phantoms.

    `accepted(pid, jid, kind)` counts accepted outcomes. When one process finished the
    same job more than once, its later runs are taken as the accepted ones: an earlier
    run of a job taken back from it was the one refused.
    """
    phantoms = []
    groups: dict[tuple[int, str, str], list[Execution]] = defaultdict(list)
    for run in runs:
        run.accepted = False
        if run.outcome is not None:
            groups[(run.pid, run.jid, run.outcome)].append(run)
    seen = {(run.pid, run.jid) for run in runs}
    for pid, jid in seen:
        for kind in ("ok", "fail"):
            finished = sorted(groups.get((pid, jid, kind), []), key=lambda run: run.end or 0.0)
            count = accepted(pid, jid, kind)
            if count > len(finished):
                phantoms.append((pid, jid, kind))
            for run in finished[len(finished) - min(count, len(finished)) :]:
                run.accepted = True
    return phantoms


def judge(
    jobs: Sequence[Job],
    executions: Sequence[Execution],
    faults: Sequence[Fault],
    accepted: Accepted,
) -> Verdict:
    verdict = Verdict(jobs=len(jobs), executions=len(executions))
    by_jid: dict[str, list[Execution]] = defaultdict(list)
    for run in executions:
        by_jid[run.jid].append(run)
    for job in jobs:
        runs = sorted(by_jid.pop(job.jid, []), key=lambda run: run.start)
        verdict.phantoms += mark_accepted(runs, accepted)
        final = COMPLETES_WITH[job.kind]
        finals = sum(1 for run in runs if run.accepted and run.outcome == final)
        if finals == 0:
            verdict.lost.append(job.jid)
            if any(run.outcome == final for run in runs):
                verdict.refused_only.append(job.jid)
        passing = sum(1 for run in runs if run.accepted and run.outcome != final)
        if finals > 1 or passing > NEEDED[job.kind] - 1:
            verdict.twice.append(job.jid)
        if job.due and runs and runs[0].start < job.due:
            verdict.early.append(job.jid)
        wasted = [run for run in runs if not run.accepted]
        verdict.accepted += len(runs) - len(wasted)
        verdict.duplicates += len(wasted)
        causes = [cause(run, faults) for run in wasted]
        if None in causes:
            verdict.unexplained[job.jid] = runs
        verdict.causes.update(found for found in causes if found is not None)
    verdict.strangers = sorted(by_jid)
    return verdict
