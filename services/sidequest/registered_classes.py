"""The job classes a worker registered, published in its process hash.

`sidequest enqueue CLASS` without `-r` cannot import the job to check its name, so it
asks the live processes instead: a class no live worker registered would fail as
unknown the moment one fetched it, and wait in the retry set for a worker that knows it
(issue 22). `RegisteredClasses` is a middleware:
once the worker started (its first heartbeat wrote the process hash), it adds the
names, every name the registry resolves (job names and dotted paths), as a JSON array
under `api.processes.JOB_CLASSES_FIELD`. The heartbeat rewrites only its own fields and
the hash expires with them, so the list lives exactly as long as the process entry.

Written once: a Redis that loses its data (a restart without persistence) gets the
entry back from the next heartbeat without the list, and readers then know nothing
about that process's classes, which makes them warn less, never wrongly.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence

import redis

from sidequest import keys
from sidequest.api.processes import JOB_CLASSES_FIELD
from sidequest.middleware import Middleware, ProcessInfo

logger = logging.getLogger("sidequest")


class RegisteredClasses(Middleware):
    def __init__(self, client: redis.Redis, names: Sequence[str]):
        self.redis = client
        self.names = sorted(names)

    def process_started(self, process: ProcessInfo) -> None:
        key = keys.process(process.identity)
        pipe = self.redis.pipeline(transaction=True)
        pipe.hset(key, JOB_CLASSES_FIELD, json.dumps(self.names, separators=(",", ":")))
        # The hash already expires with the heartbeat; should the first beat have failed,
        # this keeps a lone field from outliving a process that dies before its next one.
        pipe.expire(key, keys.PROCESS_TTL_SECONDS)
        try:
            pipe.execute()
        except redis.RedisError as error:
            logger.warning("could not publish the registered job classes: %s", error)
