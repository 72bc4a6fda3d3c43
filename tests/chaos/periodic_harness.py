"""One periodic chaos run: `every: 1` schedules ticking through the job chaos run's faults.

    report = PeriodicChaosRun(config, directory).run()
    assert report.ok, report.format()

It is the job chaos run (harness.ChaosRun) with periodic schedules instead of a batch
of jobs: the same two redis-servers (the job Redis with AOF everysec, the witness),
the same worker slots and TCP proxy, the same seeded fault plan and fault handlers
(SIGKILL and SIGTERM of random workers, each restarted; a SIGSTOP of one worker past
its heartbeat timeout; a network stall and a reset of the proxied worker; one crash of
the job Redis that loses the last second of its AOF). Every worker publishes the same
`:periodic:` config file and claims ticks; the job records each run in the witness.

The window is (T0, T1]: from the first whole second after every worker beats, for
`duration` seconds, while the faults happen. Once every schedule's watermark passed
T1, the schedules are unpublished, the jobs drained and the workers stopped. Then
periodic_ledger.py reads the AOF (what Redis settled, and what the crash took) and the
witness (what ran), and judges every tick of the window: settled and accounted for
(pushed, or counted as dropped by the claim that settled it, as its policy says),
run, and never run under two jids unless the crash lost the first one's claim.
"""

from __future__ import annotations

import time
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from sidequest.periodic_jobs import keys as periodic_keys
from sidequest.periodic_jobs.store import PeriodicStore
from tests.chaos import aof, inspection, ledger, periodic_ledger, plan
from tests.chaos.cluster import Slot, identity_of
from tests.chaos.harness import ChaosRun
from tests.chaos.periodic_chaos_jobs import RUNS
from tests.chaos.periodic_config import MISSED_LIMIT, PeriodicChaosConfig
from tests.support.polling import wait_for

JOB_CLASS = "tests.chaos.periodic_chaos_jobs.PeriodicChaosJob"


@dataclass
class PeriodicChaosReport:
    config: PeriodicChaosConfig
    verdict: periodic_ledger.Verdict
    figures: dict[str, object]
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.verdict.ok and not self.problems

    def format(self) -> str:
        seed = self.config.seed
        lines = [f"periodic chaos run (seed {seed}; replay with CHAOS_SEED={seed}):"]
        lines += [f"  {name:<30} {value}" for name, value in self.figures.items()]
        verdict = self.verdict
        for label, items in (
            ("CLAIMS NOT ACCOUNTED FOR", verdict.unaccounted),
            ("CLAIMS OFF THEIR POLICY", verdict.off_policy),
            ("TICKS NEVER SETTLED", verdict.unsettled),
            ("TICKS PUSHED BUT NEVER RUN", verdict.lost),
            ("TICKS RUN UNDER TWO JIDS", verdict.duplicated),
            ("RUNS NO CLAIM PUSHED", verdict.strangers),
        ):
            if items:
                lines.append(f"  {label}: {len(items)}, e.g. {items[:5]}")
        lines += [f"  PROBLEM: {problem}" for problem in self.problems]
        return "\n".join(lines)


class PeriodicChaosRun(ChaosRun):
    def __init__(self, config: PeriodicChaosConfig, directory: Path):
        super().__init__(config.fault_config(), directory)
        self.periodic = config
        self.names = [f"p{index:04d}" for index in range(config.schedules)]

    def run(self) -> PeriodicChaosReport:  # type: ignore[override]
        started = time.monotonic()
        with ExitStack() as stack:
            self._start_servers(stack)

            self.jobs = []
            self.slots = self._slots()
            stack.callback(self._stop_everything)
            for slot in self.slots:
                slot.start()
                self._state[slot.index] = "up"
            wait_for(
                lambda: all(identity_of(self.client, slot.pid) for slot in self.slots),
                timeout=30,
                message="every worker's first heartbeat",
            )
            wait_for(self._all_published, timeout=30, message="the schedules published")
            first = int(time.time()) + 1
            wait_for(lambda: time.time() >= first, timeout=5, message="the window's start")
            self.planned = plan.faults(self.config)
            self._hit(self.planned, time.time())
            last = first + int(self.periodic.duration)
            self.window = (first, last)
            self._settle_window(last)
            self._stop_workers()
            verdict = self._judge_ticks()
            self._check_faults()
        figures = self._periodic_figures(verdict, time.monotonic() - started)
        return PeriodicChaosReport(self.periodic, verdict, figures, self.problems)

    # -- set-up ---------------------------------------------------------------------------

    def _slots(self) -> list[Slot]:
        path = self.directory / "sidequest.yml"
        schedules = {
            name: {
                "every": 1,
                "class": JOB_CLASS,
                "args": [name],
                "missed": self.periodic.policy(index),
                "missed_limit": MISSED_LIMIT,
            }
            for index, name in enumerate(self.names)
        }
        path.write_text(yaml.safe_dump({":periodic:": schedules}))
        slots = super()._slots()
        for slot in slots:
            slot.args += ["-C", str(path), "-r", "tests.chaos.periodic_chaos_jobs"]
        return slots

    def _running_long(self, pid: int) -> bool:
        # Periodic jobs take a millisecond: any moment is as good to freeze a worker in.
        return True

    def _all_published(self) -> bool:
        return self.client.hlen(periodic_keys.SCHEDULES) == len(self.names)

    # -- after the window -----------------------------------------------------------------

    def _watermarks(self) -> dict[str, float]:
        marks = PeriodicStore(self.client).watermarks(self.names)
        return {name: float(mark or 0) for name, mark in marks.items()}

    def _settle_window(self, last: int) -> None:
        """Every tick of the window settled, then no more ticks, and every job run."""
        wait_for(
            lambda: all(self.slots[slot].running() for slot in range(len(self.slots))),
            timeout=30,
            message="every worker up again",
        )
        wait_for(
            lambda: min(self._watermarks().values()) >= last,
            timeout=30,
            interval=0.1,
            message="every schedule's watermark past the window",
        )
        # A worker publishes before its first heartbeat: once all beat, none restarted
        # at the end of the faults can publish the schedules again after the stop below.
        wait_for(
            lambda: all(identity_of(self.client, slot.pid) for slot in self.slots),
            timeout=30,
            message="every worker's heartbeat (its schedules published)",
        )
        # An empty set stops every schedule (claims find their definition gone).
        PeriodicStore(self.client).publish([], time.time())

        def drained() -> bool:
            left = inspection.pending(self.client, due_before=float("inf"))
            return not (any(left.queued.values()) or left.scheduled or left.in_flight)

        wait_for(drained, timeout=60, interval=0.2, message="every periodic job run")

    def _judge_ticks(self) -> periodic_ledger.Verdict:
        wait_for(
            lambda: self._aof_state()[0] == 0,
            timeout=15,
            message="Redis to write the last commands to its AOF",
        )
        files = aof.incremental_files(self.job_redis.directory)
        if len(files) != 1:
            self.problems.append(f"expected one incremental AOF file, found {files}")
        data = b"".join(path.read_bytes() for path in files)
        lost: set[tuple[str, int, str]] = set()
        crash_window = None
        crash = self.crash
        if crash is not None:
            kept = ledger.complete_prefix(crash.before[: crash.cut])
            if data[:kept] != crash.before[:kept]:
                self.problems.append("the AOF after the crash does not continue where it was cut")
            at_cut = periodic_ledger.replay(crash.before[:kept])
            lost = periodic_ledger.replay(crash.before[kept:], at_cut.marks).pushes
            # Writes Redis held unwritten (a slow fsync) die with the process too.
            crash_window = (crash.rolled_back_to - 2.0, crash.crashed_at + 0.5)
        survived = periodic_ledger.replay(data)
        self.lost_pushes = len(lost)
        runs = periodic_ledger.parse_runs(self.witness_client.lrange(RUNS, 0, -1))
        policies = {
            name: (self.periodic.policy(index), MISSED_LIMIT)
            for index, name in enumerate(self.names)
        }
        self._check_counts(survived)
        return periodic_ledger.judge(survived, lost, runs, self.window, policies, crash_window)

    def _check_counts(self, survived: periodic_ledger.Replay) -> None:
        """The state's `dropped` is the sum of what the surviving claims counted."""
        pipe = self.client.pipeline(transaction=False)
        for name in self.names:
            pipe.hget(periodic_keys.state(name), "dropped")
        stored = dict(zip(self.names, pipe.execute(), strict=True))
        for name in self.names:
            counted = sum(claim.dropped for claim in survived.claims if claim.name == name)
            if int(stored[name] or 0) != counted:
                self.problems.append(
                    f"{name}: the state says {stored[name]} dropped, its claims {counted}"
                )

    def _check_faults(self) -> None:
        kinds = {fault.kind for fault in self.faults}
        for kind in ("kill", "term", "freeze", "stall", "reset"):
            if kind not in kinds:
                self.problems.append(f"no {kind} happened, though the plan had one")
        if self.crash is None:
            self.problems.append("the Redis crash never happened")

    def _periodic_figures(
        self, verdict: periodic_ledger.Verdict, elapsed: float
    ) -> dict[str, object]:
        kinds = [fault.kind for fault in self.faults]
        return {
            "schedules x seconds": f"{self.periodic.schedules} x {int(self.periodic.duration)}",
            "ticks in the window": verdict.ticks,
            "enqueued": verdict.enqueued,
            "dropped (counted, by policy)": verdict.dropped,
            "missed (counted by claims)": verdict.missed,
            "runs (with job re-runs)": verdict.runs,
            "never settled": len(verdict.unsettled),
            "pushed, never run": len(verdict.lost),
            "duplicated ticks": len(verdict.duplicated),
            "Redis crash: pushes lost": self.lost_pushes,
            "  their ticks run twice": verdict.crash_duplicates,
            "  run, then dropped": verdict.crash_ran_then_dropped,
            "kills (SIGKILL)": kinds.count("kill"),
            "terms (SIGTERM)": kinds.count("term"),
            "freezes (SIGSTOP)": kinds.count("freeze"),
            "network cuts": f"{kinds.count('stall')} stall, {kinds.count('reset')} reset",
            "worker restarts": self.restarts,
            "redis restarts": 1 if self.crash else 0,
            "AOF bytes lost": self.crash.bytes_lost if self.crash else 0,
            "faults skipped": self.skipped,
            "elapsed": f"{elapsed:.1f}s",
        }
