"""What the job Redis settled for each periodic tick, read from its AOF, and the verdict
of a periodic chaos run. Pure, no I/O.

Every claim that settles ticks (periodic_claim.lua) is one atomic block in the AOF: its
LPUSHes of the ticks' jobs, the HSET that moves the schedule's watermark and, when it
settled missed ticks, the HINCRBYs of the state's `missed` and `dropped`. A claim
refused because another process moved the watermark first writes nothing. Replaying
the blocks in order gives, per schedule, the chain of watermarks of the data that
survived (a crash's lost tail is simply not in the file), and for every tick in it the
one claim that settled it: pushed as a job (its jid), or counted as dropped.

A run's verdict (`judge`) then holds each tick of the window (T0, T1] to:
- **accounted**: every claim settles exactly its pushed ticks plus its dropped count
  (so no tick is settled silently), pushes only ticks in its range, and runs its missed
  ticks as the schedule's policy says;
- **not lost**: a tick pushed in the surviving history ran (some execution of its jid);
- **not duplicated**: a tick ran under one jid only, except where the other jid's push
  was lost with the AOF tail of the Redis crash (Redis forgot the tick was settled and
  it was settled again: the one duplicate the design allows, see docs/guarantees.md).
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from tests.chaos.ledger import Block, blocks

STATE = b"sidequest:periodic:state:"
SCHEDULES = b"sidequest:periodic:schedules"
QUEUE = b"queue:"


@dataclass(frozen=True)
class Claim:
    """One settling step of one schedule: ticks (before, after], some pushed."""

    name: str
    before: int
    after: int
    pushed: Mapping[int, str]  # tick -> jid
    missed: int
    dropped: int

    @property
    def settled(self) -> range:
        return range(self.before + 1, self.after + 1)


@dataclass
class Replay:
    """The claims of an AOF, and each schedule's watermark after them."""

    claims: list[Claim] = field(default_factory=list)
    marks: dict[str, int] = field(default_factory=dict)
    #: (name, tick, jid) of every periodic job pushed by a claim
    pushes: set[tuple[str, int, str]] = field(default_factory=set)
    #: (name, old watermark, new) where a publish started a schedule afresh (it was
    #: added again): the ticks between are skipped by design, settled by no claim
    restarts: list[tuple[str, int, int]] = field(default_factory=list)


def replay(data: bytes, marks: Mapping[str, int] | None = None) -> Replay:
    """Read the claims in AOF `data`, each schedule starting from `marks` (its first
    watermark write otherwise: a publish, which settles nothing)."""
    found = Replay(marks=dict(marks or {}))
    for block in blocks(data):
        step = _read(block)
        for name, after in step.watermarks.items():
            before = found.marks.get(name)
            found.marks[name] = after
            if before is None:
                continue  # the schedule's first watermark: published, nothing settled
            if step.publish:
                found.restarts.append((name, before, after))
                continue
            claim = Claim(
                name,
                before,
                after,
                step.pushed.get(name, {}),
                step.counts[(name, b"missed")],
                step.counts[(name, b"dropped")],
            )
            found.claims.append(claim)
            found.pushes.update((name, tick, jid) for tick, jid in claim.pushed.items())
    return found


@dataclass
class _Step:
    """What one block wrote to periodic state and queues."""

    watermarks: dict[str, int] = field(default_factory=dict)
    #: a publish (it writes the definitions): its watermarks start schedules afresh
    publish: bool = False
    counts: dict[tuple[str, bytes], int] = field(default_factory=lambda: defaultdict(int))
    pushed: dict[str, dict[int, str]] = field(default_factory=lambda: defaultdict(dict))


def _read(block: Block) -> _Step:
    step = _Step()
    for args in block.commands:
        command = args[0].upper()
        key = args[1] if len(args) > 1 else b""
        if key == SCHEDULES:
            step.publish = True
        elif key.startswith(STATE):
            _read_state(step, key[len(STATE) :].decode(), command, args)
        elif key.startswith(QUEUE) and command in {b"LPUSH", b"RPUSH"}:
            for raw in args[2:]:
                job = _periodic(raw)
                if job is not None:
                    step.pushed[job[0]][job[1]] = job[2]
    return step


def _read_state(step: _Step, name: str, command: bytes, args: list[bytes]) -> None:
    if command in {b"HSET", b"HMSET"}:
        for at in range(2, len(args) - 1, 2):
            if args[at] == b"watermark":
                step.watermarks[name] = int(float(args[at + 1]))
    elif command == b"HINCRBY":
        step.counts[(name, args[2])] += int(args[3])


def _periodic(raw: bytes) -> tuple[str, int, str] | None:
    """(schedule, tick, jid) of a periodic job's payload; None for any other."""
    try:
        job = json.loads(raw)
    except ValueError:
        return None
    if not isinstance(job, dict) or "periodic" not in job or job.get("periodic_manual"):
        return None
    return str(job["periodic"]), int(job["periodic_at"]), str(job["jid"])


@dataclass(frozen=True)
class Run:
    """One execution of a periodic job, as the witness recorded it."""

    name: str
    tick: int
    jid: str
    pid: int
    start: float


def parse_runs(lines: Iterable[bytes | str]) -> list[Run]:
    """`<name> <tick> <jid> <pid> <start>` lines (tests/chaos/periodic_chaos_jobs.py)."""
    runs = []
    for line in lines:
        name, tick, jid, pid, start = (line.decode() if isinstance(line, bytes) else line).split()
        runs.append(Run(name, int(tick), jid, int(pid), float(start)))
    return runs


@dataclass
class Verdict:
    ticks: int = 0
    enqueued: int = 0
    #: missed ticks counted by the claims that settled window ticks (the state's
    #: `missed`), and the window's ticks settled without a run (by the policy)
    missed: int = 0
    dropped: int = 0
    runs: int = 0
    #: claims whose settled ticks are not their pushes plus their dropped count
    unaccounted: list[Claim] = field(default_factory=list)
    #: claims that ran a number of missed ticks their policy does not allow
    off_policy: list[Claim] = field(default_factory=list)
    #: (name, tick) of window ticks no claim settled
    unsettled: list[tuple[str, int]] = field(default_factory=list)
    #: (name, tick) pushed in the surviving history whose job never ran
    lost: list[tuple[str, int]] = field(default_factory=list)
    #: (name, tick) that ran under two jids, neither pushed in the lost AOF tail
    duplicated: list[tuple[str, int]] = field(default_factory=list)
    #: ticks that ran twice because the Redis crash lost the claim of their first run
    crash_duplicates: int = 0
    #: ticks whose lost first run ran, then were dropped as missed when re-settled
    crash_ran_then_dropped: int = 0
    #: runs of jobs no claim pushed, outside the crash's window
    strangers: list[Run] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not (
            self.unaccounted
            or self.off_policy
            or self.unsettled
            or self.lost
            or self.duplicated
            or self.strangers
        )


def caught_up_allowed(policy: str, limit: int, missed: int) -> int:
    """How many of `missed` ticks the policy runs."""
    return {"skip": 0, "one": min(missed, 1), "all": min(missed, limit)}[policy]


def judge(
    survived: Replay,
    lost_pushes: set[tuple[str, int, str]],
    runs: list[Run],
    window: tuple[int, int],
    policies: Mapping[str, tuple[str, int]],
    crash_window: tuple[float, float] | None = None,
) -> Verdict:
    """Hold every tick of every schedule in `window` (T0, T1] to the rules above.

    `policies`: name -> (missed policy, missed_limit); `crash_window`: the ticks whose
    claims the Redis crash may have dropped before they reached the AOF file (Redis
    replies before it writes while an fsync is slow).
    """
    verdict = Verdict(runs=len(runs))
    settled = _check_claims(survived, window, policies, verdict)
    ran: dict[tuple[str, int], set[str]] = defaultdict(set)
    pushed_jids = {jid for _, _, jid in survived.pushes | lost_pushes}
    for run in runs:
        ran[(run.name, run.tick)].add(run.jid)
        if run.jid not in pushed_jids and not _in(crash_window, run.tick):
            verdict.strangers.append(run)
    lost_jids = {jid for _, _, jid in lost_pushes}
    for name in sorted(policies):
        for tick in range(window[0] + 1, window[1] + 1):
            verdict.ticks += 1
            key = (name, tick)
            if key not in settled:
                verdict.unsettled.append(key)
                continue
            jid = settled[key]
            others = ran.get(key, set()) - {jid}
            explained = {other for other in others if other in lost_jids or _in(crash_window, tick)}
            if others - explained:
                verdict.duplicated.append(key)
            if jid is None:
                verdict.dropped += 1
                verdict.crash_ran_then_dropped += bool(explained)
                continue
            verdict.enqueued += 1
            if jid not in ran.get(key, set()):
                verdict.lost.append(key)
            verdict.crash_duplicates += bool(explained)
    return verdict


def _check_claims(
    survived: Replay,
    window: tuple[int, int],
    policies: Mapping[str, tuple[str, int]],
    verdict: Verdict,
) -> dict[tuple[str, int], str | None]:
    """Each claim accounted for and on its policy; (name, tick) -> jid (None: dropped)
    of every window tick the surviving claims settled."""
    settled: dict[tuple[str, int], str | None] = {}
    for claim in survived.claims:
        ticks = set(claim.settled)
        if not set(claim.pushed) <= ticks or len(ticks) != len(claim.pushed) + claim.dropped:
            verdict.unaccounted.append(claim)
        policy, limit = policies[claim.name]
        if claim.missed - claim.dropped != caught_up_allowed(policy, limit, claim.missed):
            verdict.off_policy.append(claim)
        in_window = [tick for tick in claim.settled if window[0] < tick <= window[1]]
        for tick in in_window:
            settled[(claim.name, tick)] = claim.pushed.get(tick)
        if in_window:
            verdict.missed += claim.missed
    return settled


def _in(window: tuple[float, float] | None, tick: int) -> bool:
    return window is not None and window[0] <= tick <= window[1]
