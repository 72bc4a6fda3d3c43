"""Moves due jobs from the `schedule` and `retry` sets onto their queues, on time, and
enqueues the ticks of periodic jobs.

Tasks:
1. find the earliest score in `schedule` and `retry`, and the next periodic tick
   (PeriodicFiring.due: the process's ticker, no I/O)
2. sleep until the earlier of the two, or until a client announces an earlier job on the
   wakeup channel (our clients PUBLISH when they schedule, and so does a worker that sets
   a retry); never longer than `scheduler_max_sleep`, so jobs scheduled by other clients
   (Ruby) are picked up too
3. fire the periodic ticks that are due (PeriodicFiring.fire: every process does, and
   periodic_claim.lua lets one push each tick)
4. move every due job with promote.lua: the ZREM and the LPUSH happen in one step, and
   a job moves only if this process removed it, so every worker can run a scheduler
5. after pushing jobs, wake the process's fetcher (`on_pushed`), which takes them in
   one round trip
Unlike Sidekiq's poller (a random 2.5-7.5 s sleep), a job starts within a few
milliseconds of its due time, never before it, and so does a periodic tick.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

import redis

from sidequest import keys, payload
from sidequest.errors import MalformedPayloadError
from sidequest.runtime import failure
from sidequest.runtime.backoff import Backoff
from sidequest.runtime.periodic import PeriodicFiring
from sidequest.runtime.store.schedule import ScheduleStore

logger = logging.getLogger("sidequest")

BATCH = 200
_SUBSCRIBE_REPLY_SECONDS = 5.0
# The last stretch of a sleep is slept with time.sleep: poll(2), under the wait for
# wakeup messages, counts whole milliseconds rounded up, which woke the scheduler up to
# a millisecond after a tick or a due job. A message arriving in this stretch is read
# at the next look, at most this much later.
_PRECISE_WAIT_SECONDS = 0.002


class Scheduler:
    def __init__(
        self,
        store: ScheduleStore,
        connect: Callable[[], redis.Redis],
        max_sleep: float,
        periodic: PeriodicFiring | None = None,
        on_pushed: Callable[[], None] | None = None,
    ):
        self.store = store
        self.connect = connect
        self.max_sleep = max_sleep
        self.periodic = periodic
        #: called after this scheduler pushed jobs onto queues: the launcher wakes its
        #: fetcher, which takes them in one round trip instead of one landing at a time
        self.on_pushed = on_pushed
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name="sidequest-scheduler", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopped.set()

    def _run(self) -> None:
        backoff = Backoff("scheduler")
        while not self._stopped.is_set():
            client = self.connect()
            pubsub = client.pubsub(ignore_subscribe_messages=True)  # type: ignore[no-untyped-call]
            try:
                pubsub.subscribe(keys.SCHEDULE_WAKEUP_CHANNEL)
                # Read the reply now: a refused SUBSCRIBE (no access to the channel, a
                # proxy without pub/sub) only shows there, and must count as a failure
                # rather than reset the backoff and loop ten times a second.
                pubsub.get_message(timeout=_SUBSCRIBE_REPLY_SECONDS)
                backoff.succeeded()
                self._loop(pubsub)
            except redis.RedisError as error:
                self._stopped.wait(backoff.failed(error))
            finally:
                try:
                    pubsub.close()
                finally:
                    client.close()

    def _loop(self, pubsub: redis.client.PubSub) -> None:
        while not self._stopped.is_set():
            now = time.time()
            tick = None if self.periodic is None else self._fire_ticks(self.periodic, now)
            earliest = self.store.earliest_due()
            if earliest is not None and earliest <= now:
                if self.promote_due(now):
                    self._pushed()
                continue
            wake = min((t for t in (earliest, tick) if t is not None), default=None)
            # From the clock as it is now: `now` was read before the fire and the round
            # trip above, and a sleep counted from it would end late by both.
            sleep = self.max_sleep if wake is None else min(self.max_sleep, wake - time.time())
            # Wait for news; a message may announce an earlier job, so recompute.
            deadline = time.monotonic() + sleep
            while not self._stopped.is_set():
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                if remaining <= _PRECISE_WAIT_SECONDS:
                    time.sleep(remaining)
                    break
                message = pubsub.get_message(timeout=remaining - _PRECISE_WAIT_SECONDS)
                if message is not None and _announces_before(message, earliest):
                    break

    def _fire_ticks(self, periodic: PeriodicFiring, now: float) -> float:
        """Fire the due ticks; when the next is due. Ticks go first: asking the ticker
        costs no round trip, and a tick is due at the very time the sleep ends."""
        if periodic.due(now) <= now:
            report = periodic.fire(now)
            if report is not None and report.enqueued:
                self._pushed()
        return periodic.due(now)

    def _pushed(self) -> None:
        if self.on_pushed is not None:
            self.on_pushed()

    def promote_due(self, now: float) -> int:
        """Move every job due at `now`; returns how many moved."""
        moved = 0
        for set_key in (keys.RETRY, keys.SCHEDULE):
            while True:
                members = self.store.due(set_key, now, BATCH)
                if not members:
                    break
                moved += self._promote(set_key, members)
                if len(members) < BATCH:
                    break
        return moved

    def _promote(self, set_key: str, members: list[bytes]) -> int:
        enqueued_at = time.time()
        moves: list[tuple[bytes, str, str]] = []
        for member in members:
            try:
                job = payload.decode(member)
            except MalformedPayloadError as error:
                logger.warning("burying a malformed entry of %s: %s", set_key, error)
                self.store.bury(
                    set_key, member, failure.wrap_malformed(member, "", error, enqueued_at)
                )
                continue
            queue = job.get("queue")
            if not isinstance(queue, str) or not queue:
                queue = "default"
                job["queue"] = queue
            job["enqueued_at"] = enqueued_at
            moves.append((member, queue, payload.encode(job)))
        return self.store.promote(set_key, moves)


def _announces_before(message: dict[str, object], earliest: float | None) -> bool:
    if earliest is None:
        return True
    data = message.get("data")
    try:
        score = float(data.decode() if isinstance(data, bytes) else str(data))
    except ValueError:
        return True
    return score < earliest
