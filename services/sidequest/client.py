"""The Redis enqueue adapter: the only writer of new jobs, in Sidekiq's layout.

push now:      SADD queues <q>; LPUSH queue:<q> <job with enqueued_at>   (one round trip)
push later:    ZADD schedule <at> <job>; PUBLISH the wakeup channel     (one round trip)
unique:        push_unique.lua takes the lock and pushes in one step
debounced:     debounce.lua replaces the key's pending job and schedules this one
bulk:          one SADD and one LPUSH of all jobs per queue             (one round trip)

`from_environment()` is the adapter of a process that never called
`sidequest.configure()`: REDIS_URL's Redis, as a Sidekiq client's.
"""

from __future__ import annotations

import logging
import os
import time
from collections import defaultdict
from collections.abc import Mapping

import redis

from sidequest import keys, payload, scripts
from sidequest.adapter import DebounceSpec, PushResult, UniqueSpec
from sidequest.connection import connect, redact
from sidequest.errors import EnqueueError
from sidequest.payload import JobDict
from sidequest.redis_source import ENVIRONMENT

logger = logging.getLogger("sidequest")


class RedisAdapter:
    """Pushes payloads to Redis. Thread-safe: redis-py's pool gives each call a connection."""

    def __init__(self, client: redis.Redis):
        self.redis = client

    def push(
        self,
        job: JobDict,
        *,
        at: float | None = None,
        unique: UniqueSpec | None = None,
        debounce: DebounceSpec | None = None,
    ) -> PushResult:
        try:
            if debounce is not None:
                return self._push_debounced(job, debounce)
            if unique is not None:
                return self._push_unique(job, at, unique)
            pipe = self.redis.pipeline(transaction=False)
            if at is None:
                job["enqueued_at"] = time.time()
                pipe.sadd(keys.QUEUES, job["queue"])
                pipe.lpush(keys.queue(job["queue"]), payload.encode(job))
            else:
                job.pop("enqueued_at", None)
                pipe.zadd(keys.SCHEDULE, {payload.encode(job): at})
                pipe.publish(keys.SCHEDULE_WAKEUP_CHANNEL, repr(at))
            _execute(pipe, wakeup=at is not None)
        except redis.RedisError as error:
            raise EnqueueError(f"could not enqueue {job['class']} {job['jid']}: {error}") from error
        return PushResult(enqueued=True)

    def push_bulk(self, jobs: list[JobDict], *, at: float | None = None) -> None:
        if not jobs:
            return
        try:
            pipe = self.redis.pipeline(transaction=False)
            if at is None:
                now = time.time()
                by_queue: dict[str, list[str]] = defaultdict(list)
                for job in jobs:
                    job["enqueued_at"] = now
                    by_queue[job["queue"]].append(payload.encode(job))
                for name, encoded in by_queue.items():
                    pipe.sadd(keys.QUEUES, name)
                    pipe.lpush(keys.queue(name), *encoded)
            else:
                pipe.zadd(keys.SCHEDULE, {payload.encode(job): at for job in jobs})
                pipe.publish(keys.SCHEDULE_WAKEUP_CHANNEL, repr(at))
            _execute(pipe, wakeup=at is not None)
        except redis.RedisError as error:
            raise EnqueueError(f"could not enqueue {len(jobs)} jobs: {error}") from error

    def _push_debounced(self, job: JobDict, debounce: DebounceSpec) -> PushResult:
        job.pop("enqueued_at", None)
        reply = scripts.DEBOUNCE(
            self.redis,
            [keys.debounce(debounce.key), keys.SCHEDULE, keys.FLOW_STATS],
            [
                repr(time.time()),
                repr(debounce.window),
                repr(debounce.cap),
                job["jid"],
                payload.encode(job),
                keys.SCHEDULE_WAKEUP_CHANNEL,
            ],
        )
        due, replaced = (text.decode() if isinstance(text, bytes) else str(text) for text in reply)
        return PushResult(enqueued=True, scheduled_at=float(due), replaced=replaced or None)

    def _push_unique(self, job: JobDict, at: float | None, unique: UniqueSpec) -> PushResult:
        if at is None:
            job["enqueued_at"] = time.time()
            target = keys.queue(job["queue"])
            score = ""
        else:
            job.pop("enqueued_at", None)
            target = keys.SCHEDULE
            score = repr(at)
        reply = scripts.PUSH_UNIQUE(
            self.redis,
            [keys.unique_lock(unique.digest), keys.QUEUES, target],
            [
                job["jid"],
                max(1, int(unique.ttl * 1000)),
                job["queue"],
                payload.encode(job),
                score,
                keys.SCHEDULE_WAKEUP_CHANNEL,
            ],
        )
        if int(reply[0]) == 1:
            return PushResult(enqueued=True)
        holder = reply[1].decode() if isinstance(reply[1], bytes) else str(reply[1])
        return PushResult(enqueued=False, holder=holder or None)


def _execute(pipe: redis.client.Pipeline, *, wakeup: bool) -> None:
    """Run the push; when it ends with a wakeup PUBLISH, a failed PUBLISH is not fatal.

    The wakeup only makes schedulers look sooner (they look every second anyway). A
    Redis user without access to the channel (Redis 7 users get no channels unless
    granted) would otherwise see an error for a job that was in fact scheduled, and
    retrying would schedule it twice.
    """
    results = pipe.execute(raise_on_error=False)
    if wakeup and isinstance(results[-1], redis.ResponseError):
        logger.warning("job scheduled, but the scheduler wakeup failed: %s", results[-1])
        results = results[:-1]
    for result in results:
        if isinstance(result, Exception):
            raise result


def from_environment(environ: Mapping[str, str] | None = None) -> RedisAdapter | None:
    """An adapter for REDIS_URL's Redis; None when the variable is unset or empty.

    Raises:
        ConfigError: REDIS_URL is malformed; the message names it.
    """
    url = (os.environ if environ is None else environ).get(ENVIRONMENT.where, "").strip()
    if not url:
        return None
    adapter = RedisAdapter(connect(url, source=ENVIRONMENT.setting))
    logger.info(
        "sidequest.configure() was not called: enqueuing to %s (%s)", redact(url), ENVIRONMENT
    )
    return adapter
