"""The Redis enqueue adapter: the only writer of new jobs, in Sidekiq's layout.

push now:      SADD queues <q>; LPUSH queue:<q> <job with enqueued_at>   (one round trip)
push later:    ZADD schedule <at> <job>; PUBLISH the wakeup channel     (one round trip)
unique:        push_unique.lua takes the lock and pushes in one step
debounced:     debounce.lua replaces the key's pending job and schedules this one
bulk:          one SADD and one LPUSH of all jobs per queue             (one round trip)
with a wait:   each of these ends with WAIT <replicas> <ms> in the same round trip
               (replication.py: enqueue_wait_replicas)

`from_environment()` is the adapter of a process that never called
`sidequest.configure()`: REDIS_URL's Redis, as a Sidekiq client's.
"""

from __future__ import annotations

import logging
import os
import time
import weakref
from collections import defaultdict
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import redis
from redis.exceptions import NoScriptError

from sidequest import keys, payload, scripts
from sidequest.adapter import DebounceSpec, PushResult, UniqueSpec
from sidequest.connection import connect, redact, run_at_most_once
from sidequest.errors import EnqueueError
from sidequest.payload import JobDict
from sidequest.redis_source import ENVIRONMENT
from sidequest.replication import EnqueueWait, ReplicationTimeoutError
from sidequest.replication import from_environment as wait_from_environment

if TYPE_CHECKING:
    # Imported when first used: most processes that enqueue never use asyncio, and
    # redis.asyncio costs tens of milliseconds to import.
    import asyncio

    import redis.asyncio

logger = logging.getLogger("sidequest")

# Connections of the asyncio client per event loop (enqueues from async code).
_ASYNC_CONNECTIONS = 32


class RedisAdapter:
    """Pushes payloads to Redis. Thread-safe: redis-py's pool gives each call a connection."""

    def __init__(self, client: redis.Redis, wait: EnqueueWait | None = None):
        """`wait`: replicas to wait for after each enqueue; None takes the environment's
        SIDEQUEST_ENQUEUE_WAIT_REPLICAS / _TIMEOUT (replication.py)."""
        self.redis = client
        self.wait = wait_from_environment() if wait is None else wait
        # redis-py's asyncio connections belong to the loop that opened them: one
        # client per event loop, built from the same connection settings.
        self._async_clients: weakref.WeakKeyDictionary[
            asyncio.AbstractEventLoop, redis.asyncio.Redis
        ] = weakref.WeakKeyDictionary()

    def async_client(self) -> redis.asyncio.Redis:
        """The asyncio client of the running loop, on the sync client's connection settings."""
        import asyncio  # noqa: PLC0415  (see the imports at the top)

        loop = asyncio.get_running_loop()
        client = self._async_clients.get(loop)
        if client is None:
            client = self._async_clients[loop] = _async_twin(self.redis)
        return client

    async def push_async(
        self,
        job: JobDict,
        *,
        at: float | None = None,
        unique: UniqueSpec | None = None,
        debounce: DebounceSpec | None = None,
    ) -> PushResult:
        """`push` without blocking the event loop. A debounced push, and any push that
        waits for replicas (SIDEQUEST_ENQUEUE_WAIT_REPLICAS), runs the synchronous `push`
        on a thread of the loop's default executor."""
        if debounce is not None or self.wait.enabled:
            import asyncio  # noqa: PLC0415  (see the imports at the top)

            return await asyncio.to_thread(self.push, job, at=at, unique=unique, debounce=debounce)
        client = self.async_client()
        try:
            if unique is not None:
                target, score = self._unique_target(job, at)
                reply = await scripts.PUSH_UNIQUE.call_async(
                    client,
                    [keys.unique_lock(unique.digest), keys.QUEUES, target],
                    _unique_args(job, unique, score),
                )
                return _unique_result(reply)
            pipe = client.pipeline(transaction=False)
            _queue_one(pipe, job, at)
            _check(await pipe.execute(raise_on_error=False), wakeup=at is not None)
        except redis.RedisError as error:
            raise EnqueueError(f"could not enqueue {job['class']} {job['jid']}: {error}") from error
        return PushResult(enqueued=True)

    async def push_bulk_async(self, jobs: list[JobDict], *, at: float | None = None) -> None:
        """`push_bulk` without blocking the event loop; with replicas to wait for, the
        synchronous `push_bulk` on a thread."""
        if not jobs:
            return
        if self.wait.enabled:
            import asyncio  # noqa: PLC0415  (see the imports at the top)

            await asyncio.to_thread(self.push_bulk, jobs, at=at)
            return
        try:
            pipe = self.async_client().pipeline(transaction=False)
            _queue_bulk(pipe, jobs, at)
            _check(await pipe.execute(raise_on_error=False), wakeup=at is not None)
        except redis.RedisError as error:
            raise EnqueueError(f"could not enqueue {len(jobs)} jobs: {error}") from error

    @staticmethod
    def _unique_target(job: JobDict, at: float | None) -> tuple[str, str]:
        if at is None:
            job["enqueued_at"] = time.time()
            return keys.queue(job["queue"]), ""
        job.pop("enqueued_at", None)
        return keys.SCHEDULE, repr(at)

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
            _queue_one(pipe, job, at)
            if at is None:
                # LPUSH is no idempotent write: repeated after a lost reply, it would
                # queue the job twice (a ZADD of the same member is harmless).
                with run_at_most_once():
                    _execute(pipe, wakeup=False, wait=self.wait, what=_name(job))
            else:
                _execute(pipe, wakeup=True, wait=self.wait, what=_name(job))
        except ReplicationTimeoutError:
            raise
        except redis.RedisError as error:
            raise EnqueueError(f"could not enqueue {_name(job)}: {error}") from error
        return PushResult(enqueued=True)

    def push_bulk(self, jobs: list[JobDict], *, at: float | None = None) -> None:
        if not jobs:
            return
        try:
            pipe = self.redis.pipeline(transaction=False)
            _queue_bulk(pipe, jobs, at)
            what = f"a bulk of {len(jobs)} jobs"
            if at is None:
                with run_at_most_once():  # as in push: no LPUSH twice
                    _execute(pipe, wakeup=False, wait=self.wait, what=what)
            else:
                _execute(pipe, wakeup=True, wait=self.wait, what=what)
        except ReplicationTimeoutError:
            raise
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
        target, score = self._unique_target(job, at)
        script_keys = [keys.unique_lock(unique.digest), keys.QUEUES, target]
        script_args = _unique_args(job, unique, score)
        if self.wait.enabled:
            reply = self._push_unique_and_wait(script_keys, script_args, _name(job))
        else:
            reply = scripts.PUSH_UNIQUE(self.redis, script_keys, script_args)
        return _unique_result(reply)

    def _push_unique_and_wait(
        self, script_keys: list[str], script_args: list[scripts.Arg], what: str
    ) -> list[Any]:
        """push_unique.lua and WAIT in one pipeline: WAIT must follow the write on the
        same connection, or it waits for nothing."""
        for _ in range(2):
            pipe = self.redis.pipeline(transaction=False)
            scripts.PUSH_UNIQUE.queue(pipe, script_keys, script_args)
            pipe.execute_command("WAIT", self.wait.replicas, self.wait.timeout_ms)  # type: ignore[no-untyped-call]
            reply, confirmed = pipe.execute(raise_on_error=False)
            if isinstance(reply, NoScriptError):
                # The server forgot the script (a restart, a promoted replica): the call
                # did nothing; load it and run both again.
                self.redis.script_load(scripts.PUSH_UNIQUE.source)
                continue
            if isinstance(reply, Exception):
                raise reply
            if isinstance(confirmed, Exception):
                raise confirmed
            self.wait.check(confirmed, what)
            return list(reply)
        raise EnqueueError(f"could not enqueue {what}: the push script would not load")


def _queue_one(
    pipe: redis.client.Pipeline | redis.asyncio.client.Pipeline,
    job: JobDict,
    at: float | None,
) -> None:
    """Queue a plain push's commands on a pipeline (sync or asyncio: both only buffer
    here): SADD and LPUSH with enqueued_at now, or, without enqueued_at, ZADD and the
    wakeup when scheduled. Shared by push and push_async."""
    if at is None:
        job["enqueued_at"] = time.time()
        pipe.sadd(keys.QUEUES, job["queue"])
        pipe.lpush(keys.queue(job["queue"]), payload.encode(job))
    else:
        job.pop("enqueued_at", None)
        pipe.zadd(keys.SCHEDULE, {payload.encode(job): at})
        pipe.publish(keys.SCHEDULE_WAKEUP_CHANNEL, repr(at))


def _queue_bulk(
    pipe: redis.client.Pipeline | redis.asyncio.client.Pipeline,
    jobs: list[JobDict],
    at: float | None,
) -> None:
    """Queue a bulk push's commands on a pipeline (sync or asyncio: both only buffer
    here): one SADD and LPUSH per queue now, or one ZADD and wakeup when scheduled."""
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


def _name(job: JobDict) -> str:
    return f"{job['class']} {job['jid']}"


def _unique_args(job: JobDict, unique: UniqueSpec, score: str) -> list[scripts.Arg]:
    return [
        job["jid"],
        max(1, int(unique.ttl * 1000)),
        job["queue"],
        payload.encode(job),
        score,
        keys.SCHEDULE_WAKEUP_CHANNEL,
    ]


def _unique_result(reply: list[object]) -> PushResult:
    if int(str(reply[0])) == 1:
        return PushResult(enqueued=True)
    holder = reply[1].decode() if isinstance(reply[1], bytes) else str(reply[1])
    return PushResult(enqueued=False, holder=holder or None)


def _async_twin(client: redis.Redis) -> redis.asyncio.Redis:
    """An asyncio client with the connection settings of `client`'s pool."""
    import redis.asyncio  # noqa: PLC0415  (see the import at the top)

    pool = client.connection_pool
    settings = dict(pool.connection_kwargs)
    kind = pool.connection_class
    if issubclass(kind, redis.UnixDomainSocketConnection):
        connection_class: type[redis.asyncio.Connection] = redis.asyncio.UnixDomainSocketConnection  # type: ignore[assignment]
    elif issubclass(kind, redis.SSLConnection):
        connection_class = redis.asyncio.SSLConnection
    else:
        connection_class = redis.asyncio.Connection
    # Options only the synchronous connections know (redis-py's own defaults apply).
    for name in ("ssl_check_hostname_default", "cache", "cache_config"):
        settings.pop(name, None)
    return redis.asyncio.Redis(
        connection_pool=redis.asyncio.ConnectionPool(connection_class=connection_class, **settings)
    )


def _execute(pipe: redis.client.Pipeline, *, wakeup: bool, wait: EnqueueWait, what: str) -> None:
    """Run the push; when it ends with a wakeup PUBLISH, a failed PUBLISH is not fatal.
    With a `wait`, a WAIT follows on the same connection and must reach its replicas.

    The wakeup only makes schedulers look sooner (they look every second anyway). A
    Redis user without access to the channel (Redis 7 users get no channels unless
    granted) would otherwise see an error for a job that was in fact scheduled, and
    retrying would schedule it twice.
    """
    if wait.enabled:
        pipe.execute_command("WAIT", wait.replicas, wait.timeout_ms)  # type: ignore[no-untyped-call]
    results = pipe.execute(raise_on_error=False)
    confirmed = results.pop() if wait.enabled else None
    _check(results, wakeup=wakeup)
    if wait.enabled:
        if isinstance(confirmed, Exception):
            raise confirmed
        wait.check(confirmed, what)


def _check(results: list[object], *, wakeup: bool) -> None:
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
