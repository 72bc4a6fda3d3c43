"""The PeriodicTicker: enqueues every published schedule's ticks, in every worker process.

The worker's scheduler thread asks `due(now)` when it must wake next (the earliest tick of
any schedule) and calls `fire(now)` then. `fire`:
1. plans each due schedule from the watermark it last saw: the ticks on time, and the
   missed ones its `missed` policy runs (missed.py)
2. claims them with periodic_claim.lua, all schedules in one round trip: the script
   pushes the jobs and moves the watermark only if the watermark is still the one
   planned from, so of all the processes planning the same ticks exactly one pushes them
3. plans again from the watermark a lost claim returns (another process was first:
   usually nothing is left), and reloads the definitions when a claim says they changed
No process leads and no lock is handed over: a process that dies between two ticks
leaves nothing behind, and the others claim the next tick as they would have anyway.

Definitions are the published ones (store.publish at worker start), reloaded every
`refresh_seconds` and whenever a claim finds them changed, so a schedule added or
changed by a worker started elsewhere reaches this one too.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from sidequest import payload
from sidequest.periodic_jobs import missed, payloads
from sidequest.periodic_jobs.store import ClaimRequest, Definition, PeriodicStore

logger = logging.getLogger("sidequest")

#: claim rounds per fire; each lost round means another process moved the watermark,
#: so a few suffice, and a fire that runs out leaves `due` at now for the next one
MAX_ROUNDS = 8


@dataclass(frozen=True)
class Enqueued:
    """One tick's job, pushed by this process."""

    name: str
    tick: int
    jid: str
    queue: str
    #: seconds from the tick to the push, by this process's clock
    lateness: float
    #: a missed tick run by the `missed` policy, rather than one on time
    caught_up: bool


@dataclass
class FireReport:
    """What one `fire` did. Only the process whose claim won reports a tick.

    Attributes:
        enqueued: the jobs pushed, oldest tick first per schedule.
        missed: per schedule, ticks found past their grace (run or not): the
            `sidequest_periodic_missed_total` counts.
        dropped: per schedule, missed ticks not run (`skip`, or past `one`/`missed_limit`).
        paused: schedules whose due ticks passed while paused.
        lost: claims another process had made first (normal with several workers).
    """

    enqueued: list[Enqueued] = field(default_factory=list)
    missed: dict[str, int] = field(default_factory=dict)
    dropped: dict[str, int] = field(default_factory=dict)
    paused: list[str] = field(default_factory=list)
    lost: int = 0


@dataclass(frozen=True)
class _Attempt:
    definition: Definition
    plan: missed.Plan
    jids: tuple[str, ...]
    request: ClaimRequest


class PeriodicTicker:
    """Enqueues due ticks; called from one thread (the scheduler's)."""

    def __init__(
        self,
        store: PeriodicStore,
        *,
        clock: Callable[[], float] = time.time,
        refresh_seconds: float = 30.0,
    ):
        self.store = store
        self.clock = clock
        self.refresh_seconds = refresh_seconds
        self._definitions: dict[str, Definition] | None = None
        self._marks: dict[str, str] = {}
        #: the watermark to plan from where the state has none (its first claim sets one)
        self._base: dict[str, int] = {}
        self._next: dict[str, int | None] = {}
        self._loaded_at = 0.0

    def due(self, now: float) -> float:
        """When `fire` must run next: the earliest next tick, or a refresh of definitions."""
        if self._definitions is None:
            return now
        refresh = self._loaded_at + self.refresh_seconds
        ticks = [tick for tick in self._next.values() if tick is not None]
        return float(min([refresh, *ticks]))

    def fire(self, now: float | None = None) -> FireReport:
        """Claim and push every due tick, as each schedule's policy says."""
        now = self.clock() if now is None else now
        report = FireReport()
        if self._definitions is None or now >= self._loaded_at + self.refresh_seconds:
            self._load(now)
        pending = self._due_names(now)
        for _ in range(MAX_ROUNDS):
            if not pending:
                break
            attempts = [a for a in (self._attempt(name, now) for name in pending) if a]
            replies = self.store.claim([attempt.request for attempt in attempts])
            pending = []
            stale = False
            for attempt, reply in zip(attempts, replies, strict=True):
                name = attempt.definition.schedule.name
                if reply.status == "stale":
                    stale = True
                    continue
                self._settled(name, reply.watermark)
                if reply.status == "moved":
                    report.lost += 1
                    pending.append(name)
                elif reply.status == "paused":
                    report.paused.append(name)
                else:
                    _record(report, attempt)
            if stale:
                self._load(now)
                pending = self._due_names(now)
        return report

    def _due_names(self, now: float) -> list[str]:
        return [name for name, tick in self._next.items() if tick is not None and tick <= now]

    def _attempt(self, name: str, now: float) -> _Attempt | None:
        assert self._definitions is not None
        definition = self._definitions[name]
        schedule = definition.schedule
        plan = missed.plan(
            schedule.timing, self._watermark(name), now, schedule.missed, schedule.missed_limit
        )
        if plan.settle_to is None:
            self._next[name] = schedule.timing.next_after(now)
            return None
        enqueued_at = self.clock()
        jobs = [payloads.build(schedule, tick, enqueued_at) for tick in plan.run]
        request = ClaimRequest(
            definition=definition,
            expected=self._marks.get(name, ""),
            settle_to=plan.settle_to,
            jobs=[(j["periodic_at"], j["jid"], payload.encode(j)) for j in jobs],
            enqueued_at=enqueued_at,
            missed=plan.missed,
            dropped=plan.dropped,
        )
        return _Attempt(definition, plan, tuple(str(j["jid"]) for j in jobs), request)

    def _watermark(self, name: str) -> int:
        mark = self._marks.get(name, "")
        return int(float(mark)) if mark else self._base[name]

    def _settled(self, name: str, mark: str) -> None:
        assert self._definitions is not None
        self._marks[name] = mark
        timing = self._definitions[name].schedule.timing
        self._next[name] = timing.next_after(self._watermark(name))

    def _load(self, now: float) -> None:
        definitions = self.store.definitions()
        marks = self.store.watermarks(definitions)
        self._definitions = definitions
        self._marks = {}
        self._next = {}
        self._base = {name: int(now) for name in definitions}
        for name, mark in marks.items():
            self._settled(name, mark)
        self._loaded_at = now


def _record(report: FireReport, attempt: _Attempt) -> None:
    plan, request = attempt.plan, attempt.request
    schedule = attempt.definition.schedule
    queue = schedule.queue or payloads.DEFAULT_QUEUE
    for tick, jid in zip(plan.run, attempt.jids, strict=True):
        report.enqueued.append(
            Enqueued(
                name=schedule.name,
                tick=tick,
                jid=jid,
                queue=queue,
                lateness=request.enqueued_at - tick,
                caught_up=tick in plan.caught_up,
            )
        )
    if plan.missed:
        report.missed[schedule.name] = plan.missed
        logger.info(
            "periodic %s: %d tick(s) missed, %d run (missed: %s)",
            schedule.name,
            plan.missed,
            len(plan.caught_up),
            schedule.missed,
        )
    if plan.dropped:
        report.dropped[schedule.name] = plan.dropped
