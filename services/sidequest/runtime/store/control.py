"""The control listener's and the flow counters' gateway: paused queues, cancel marks,
the cluster-wide flow counters (api/pausing.py and api/cancelling.py write the first two)."""

from __future__ import annotations

import time
from collections.abc import Mapping

import redis

from sidequest import keys
from sidequest.runtime.store import text


class ControlStore:
    def __init__(self, client: redis.Redis):
        self.redis = client

    def read(self) -> tuple[set[str], set[str]]:
        """The paused queues and the jids whose cancel mark holds, in one round trip."""
        pipe = self.redis.pipeline(transaction=False)
        pipe.smembers(keys.PAUSED)
        pipe.zrangebyscore(keys.CANCELLED, repr(time.time()), "+inf")
        paused, cancelled = pipe.execute()
        return {text(name) for name in paused}, {text(jid) for jid in cancelled}

    def is_paused(self, queue: str) -> bool:
        return bool(self.redis.sismember(keys.PAUSED, queue))

    def add_counts(self, counts: Mapping[str, int]) -> None:
        pipe = self.redis.pipeline(transaction=False)
        for name, count in counts.items():
            pipe.hincrby(keys.FLOW_STATS, name, count)
        pipe.execute()
