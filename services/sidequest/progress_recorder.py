"""The worker's side of job progress: writes `sidequest:progress:<jid>` (keys.progress).

A middleware: it installs the process's throttle (`sidequest.progress`) when it is
built, before the worker's threads start (a job may run before `process_started`);
it writes the updates the throttle holds back at every heartbeat, and when a job ends
its last update with `finished_at` and `outcome`, so readers see the final state for
`PROGRESS_TTL` more seconds. Jobs that never reported progress are not
touched: the common job costs one dictionary lookup at its end.

Hash fields: done, total ("" when unknown), message, updated_at (float epoch s), and
finished_at and outcome (succeeded, retried, dead or discarded) once the job ended.
"""

from __future__ import annotations

import logging
import time

import redis

from sidequest import keys, progress
from sidequest.middleware import JobContext, Middleware, ProcessInfo

logger = logging.getLogger("sidequest")

#: seconds a job's progress stays after its last write (each write renews it)
PROGRESS_TTL = 3600


class RedisSink:
    def __init__(self, client: redis.Redis, ttl: int = PROGRESS_TTL):
        self.redis = client
        self.ttl = ttl

    def write(self, jid: str, update: progress.Update, **final: str | float) -> None:
        key = keys.progress(jid)
        fields: dict[str, str | float] = {
            "done": update.done,
            "total": "" if update.total is None else update.total,
            "message": update.message,
            "updated_at": update.at,
            **final,
        }
        pipe = self.redis.pipeline(transaction=True)
        pipe.hset(key, mapping=fields)  # type: ignore[arg-type]
        pipe.expire(key, self.ttl)
        pipe.execute()


class _GuardedSink:
    """A Redis error while writing progress must never fail the job: log and go on."""

    def __init__(self, sink: RedisSink):
        self.sink = sink

    def write(self, jid: str, update: progress.Update) -> None:
        try:
            self.sink.write(jid, update)
        except redis.RedisError as error:
            logger.warning("could not record the progress of job %s: %s", jid, error)


class ProgressRecorder(Middleware):
    def __init__(self, client: redis.Redis, ttl: int = PROGRESS_TTL):
        self.sink = RedisSink(client, ttl)
        self.throttle = progress.Throttle(_GuardedSink(self.sink))
        progress.install(self.throttle)

    def process_stopping(self, process: ProcessInfo) -> None:
        self.throttle.flush()

    def heartbeat(self) -> None:
        self.throttle.flush()

    def job_finished(
        self, job: JobContext, outcome: str, duration: float, error: BaseException | None
    ) -> None:
        # Most jobs report no progress: one dictionary lookup, no lock, for them.
        if not self.throttle.reported(job.jid):
            return
        self.throttle.flush(job.jid)
        if not self.throttle.forget(job.jid):
            return
        key = keys.progress(job.jid)
        try:
            pipe = self.sink.redis.pipeline(transaction=True)
            pipe.hset(key, mapping={"finished_at": time.time(), "outcome": outcome})
            pipe.expire(key, self.sink.ttl)
            pipe.execute()
        except redis.RedisError as failure:
            logger.warning("could not record the end of job %s's progress: %s", job.jid, failure)
