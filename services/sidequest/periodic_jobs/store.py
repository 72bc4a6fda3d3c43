"""Every Redis command of periodic jobs: publishing definitions, claiming ticks, and what
the CLI and the dashboard do (list, pause, resume, run now, record an outcome).

Keys are named in keys.py; the atomic steps are Lua (periodic_claim, periodic_resume,
periodic_outcome). Works with clients that return bytes or str. Redis errors propagate:
the caller's loop decides how to back off.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import redis

from sidequest import keys as sidekiq_keys
from sidequest import payload, scripts
from sidequest.errors import ConfigError
from sidequest.periodic_jobs import keys, payloads
from sidequest.periodic_jobs import scripts as periodic_scripts
from sidequest.periodic_jobs.schedule import Schedule

logger = logging.getLogger("sidequest")

#: how often publish retries when a claim changes a watched key under it
_PUBLISH_ATTEMPTS = 20


@dataclass(frozen=True)
class Definition:
    """A schedule as published, with the SHA1 of its JSON (the claim's proof of freshness)."""

    schedule: Schedule
    sha: str


@dataclass(frozen=True)
class Published:
    added: tuple[str, ...]
    changed: tuple[str, ...]
    removed: tuple[str, ...]


@dataclass(frozen=True)
class ClaimRequest:
    """One schedule's claim: settle ticks up to `settle_to`, pushing `jobs` (tick, jid, JSON).

    `missed` and `dropped` (missed.Plan's) are added to the schedule's counts in Redis
    by the claim that settles them.
    """

    definition: Definition
    expected: str
    settle_to: int
    jobs: Sequence[tuple[int, str, str]]
    enqueued_at: float
    missed: int = 0
    dropped: int = 0


@dataclass(frozen=True)
class ClaimReply:
    """`claimed`, `paused`, `moved` or `stale`, and the watermark the schedule has now."""

    status: str
    watermark: str


@dataclass(frozen=True)
class Status:
    """One schedule as `sidequest periodic list` and the dashboard show it."""

    schedule: Schedule
    next_tick: int | None
    paused: bool
    tick: int | None
    jid: str | None
    enqueued_at: float | None
    outcome: str | None
    run_jid: str | None
    run_at: float | None
    run_outcome: str | None
    #: ticks found past their grace since the schedule was first published, and the
    #: ones of those its `missed` policy did not run (periodic_claim.lua counts them)
    missed: int = 0
    dropped: int = 0


class PeriodicStore:
    def __init__(self, client: redis.Redis):
        self.redis = client

    # -- definitions ----------------------------------------------------------------------

    def publish(self, schedules: Sequence[Schedule], now: float) -> Published:
        """Make `schedules` (resolved) the published set: what is not among them stops.

        A new schedule, and one whose timing (cron, every, tz) changed, starts afresh:
        its watermark moves to now, so it runs from its next tick on and never catches
        up ticks from before it was published. A removed schedule's state expires after
        30 days; until then a re-added one still knows which ticks ran.
        """
        wanted = {schedule.name: schedule.to_json() for schedule in schedules}
        if len(wanted) != len(schedules):
            raise ConfigError("periodic schedule names must be unique")
        for attempt in range(_PUBLISH_ATTEMPTS):
            try:
                return self._publish_once(wanted, now)
            except redis.WatchError:
                logger.debug("periodic publish raced a claim (attempt %d)", attempt + 1)
        raise redis.WatchError("periodic publish kept racing claims")

    def _publish_once(self, wanted: dict[str, str], now: float) -> Published:
        with self.redis.pipeline(transaction=True) as pipe:
            pipe.watch(keys.SCHEDULES)  # type: ignore[no-untyped-call]
            current = {_text(k): _text(v) for k, v in pipe.hgetall(keys.SCHEDULES).items()}
            added = [name for name in wanted if name not in current]
            changed = [n for n in wanted if n in current and current[n] != wanted[n]]
            removed = [name for name in current if name not in wanted]
            restart = [*added, *(n for n in changed if _timing_changed(current[n], wanted[n]))]
            for name in restart:
                pipe.watch(keys.state(name))  # type: ignore[no-untyped-call]
            marks = [pipe.hget(keys.state(name), "watermark") for name in restart]
            pipe.multi()
            for name in removed:
                pipe.hdel(keys.SCHEDULES, name)
                pipe.expire(keys.state(name), keys.REMOVED_STATE_TTL_SECONDS)
            for name in (*added, *changed):
                pipe.hset(keys.SCHEDULES, name, wanted[name])
                pipe.persist(keys.state(name))
            for name, mark in zip(restart, marks, strict=True):
                if mark is None or float(mark) < int(now):
                    pipe.hset(keys.state(name), "watermark", int(now))
            pipe.execute()
        return Published(tuple(added), tuple(changed), tuple(removed))

    def definitions(self) -> dict[str, Definition]:
        """The published schedules; a definition that does not parse is left out, logged."""
        found: dict[str, Definition] = {}
        for raw_name, raw in self.redis.hgetall(keys.SCHEDULES).items():
            name, text = _text(raw_name), _text(raw)
            try:
                schedule = Schedule.from_json(text)
            except ConfigError as error:
                logger.warning("ignoring the periodic definition of %r: %s", name, error)
                continue
            found[name] = Definition(schedule, hashlib.sha1(text.encode()).hexdigest())
        return found

    def watermarks(self, names: Iterable[str]) -> dict[str, str]:
        """Each schedule's watermark exactly as stored ("" for none): claims compare it."""
        names = list(names)
        pipe = self.redis.pipeline(transaction=False)
        for name in names:
            pipe.hget(keys.state(name), "watermark")
        return {
            name: "" if mark is None else _text(mark)
            for name, mark in zip(names, pipe.execute(), strict=True)
        }

    # -- claiming -------------------------------------------------------------------------

    def claim(self, requests: Sequence[ClaimRequest]) -> list[ClaimReply]:
        """Run periodic_claim.lua for each request, in one round trip."""
        pipe = scripts.ScriptPipeline(self.redis)
        for request in requests:
            schedule = request.definition.schedule
            queue = schedule.queue or payloads.DEFAULT_QUEUE
            args: list[scripts.Arg] = [
                schedule.name,
                request.definition.sha,
                request.expected,
                request.settle_to,
                queue,
                repr(request.enqueued_at),
                request.missed,
                request.dropped,
            ]
            for tick, jid, job in request.jobs:
                args += [tick, jid, job]
            pipe.script(
                periodic_scripts.CLAIM,
                [
                    keys.SCHEDULES,
                    keys.state(schedule.name),
                    sidekiq_keys.QUEUES,
                    sidekiq_keys.queue(queue),
                ],
                args,
            )
        return [ClaimReply(_text(reply[0]), _text(reply[1])) for reply in pipe.execute()]

    # -- the CLI's and the dashboard's ----------------------------------------------------

    def statuses(self, now: float) -> list[Status]:
        """Every published schedule with its state, by name."""
        definitions = self.definitions()
        names = sorted(definitions)
        pipe = self.redis.pipeline(transaction=False)
        for name in names:
            pipe.hgetall(keys.state(name))
        found = []
        for name, raw_state in zip(names, pipe.execute(), strict=True):
            state = {_text(k): _text(v) for k, v in raw_state.items()}
            schedule = definitions[name].schedule
            # A watermark that is no number (written by hand) must not break the listing.
            mark = _float(state.get("watermark"))
            after = now if mark is None else max(now, mark)
            found.append(
                Status(
                    schedule=schedule,
                    next_tick=schedule.timing.next_after(after),
                    paused="paused" in state,
                    tick=_int(state.get("tick")),
                    jid=state.get("jid"),
                    enqueued_at=_float(state.get("enqueued_at")),
                    outcome=state.get("outcome"),
                    run_jid=state.get("run_jid"),
                    run_at=_float(state.get("run_at")),
                    run_outcome=state.get("run_outcome"),
                    missed=_int(state.get("missed")) or 0,
                    dropped=_int(state.get("dropped")) or 0,
                )
            )
        return found

    def pause(self, name: str) -> bool:
        """Pause a published schedule: its ticks pass and nothing is enqueued. False if unknown."""
        if not self.redis.hexists(keys.SCHEDULES, name):
            return False
        self.redis.hset(keys.state(name), "paused", "1")
        return True

    def resume(self, name: str, now: float) -> bool:
        """Unpause: it runs from its next tick on. False if it was not paused."""
        return int(periodic_scripts.RESUME(self.redis, [keys.state(name)], [int(now)])) == 1

    def run_now(self, name: str, now: float) -> str | None:
        """Enqueue the schedule's job now, outside the schedule; its jid, None if unknown.

        A definition that does not parse counts as unknown, as in `definitions`.
        """
        raw = self.redis.hget(keys.SCHEDULES, name)
        if raw is None:
            return None
        try:
            schedule = Schedule.from_json(_text(raw))
        except ConfigError as error:
            logger.warning("cannot run the periodic definition of %r: %s", name, error)
            return None
        job = payloads.build(schedule, int(now), now, manual=True)
        with self.redis.pipeline(transaction=True) as pipe:
            pipe.sadd(sidekiq_keys.QUEUES, job["queue"])
            pipe.lpush(sidekiq_keys.queue(job["queue"]), payload.encode(job))
            pipe.hset(keys.state(name), mapping={"run_jid": job["jid"], "run_at": repr(now)})
            pipe.hdel(keys.state(name), "run_outcome")
            pipe.execute()
        return str(job["jid"])

    def record_outcome(self, name: str, jid: str, outcome: str, at: float) -> bool:
        """Note how a periodic job ended, if it is still its schedule's latest."""
        reply = periodic_scripts.OUTCOME(self.redis, [keys.state(name)], [jid, outcome, repr(at)])
        return int(reply) != 0


def _timing_changed(old_json: str, new_json: str) -> bool:
    try:
        return Schedule.from_json(old_json).timing_key != Schedule.from_json(new_json).timing_key
    except ConfigError:
        return True


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _int(text: str | None) -> int | None:
    number = _float(text)
    return None if number is None else int(number)


def _float(text: str | None) -> float | None:
    if text is None:
        return None
    try:
        return float(text)
    except ValueError:
        return None
