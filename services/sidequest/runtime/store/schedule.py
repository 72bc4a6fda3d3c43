"""The scheduler's gateway: due jobs of the `schedule` and `retry` sets."""

from __future__ import annotations

import time
from collections.abc import Sequence

import redis

from sidequest import keys, scripts
from sidequest.config import Settings


class ScheduleStore:
    def __init__(self, client: redis.Redis, settings: Settings):
        self.redis = client
        self.settings = settings

    def earliest_due(self) -> float | None:
        """The lowest score across `schedule` and `retry`, or None when both are empty."""
        pipe = self.redis.pipeline(transaction=False)
        pipe.zrange(keys.SCHEDULE, 0, 0, withscores=True)
        pipe.zrange(keys.RETRY, 0, 0, withscores=True)
        scores = [entries[0][1] for entries in pipe.execute() if entries]
        return min(scores) if scores else None

    def due(self, set_key: str, now: float, limit: int) -> list[bytes]:
        members = self.redis.zrangebyscore(set_key, "-inf", repr(now), start=0, num=limit)
        return [m if isinstance(m, bytes) else str(m).encode() for m in members]

    def promote(self, set_key: str, moves: Sequence[tuple[bytes, str, str]]) -> int:
        """Move (member, queue, payload) triples from `set_key` onto their queues."""
        if not moves:
            return 0
        args: list[scripts.Arg] = []
        for member, queue, job in moves:
            args.extend((member, queue, job))
        script_keys = [set_key, keys.QUEUES, *(keys.queue(queue) for _, queue, _ in moves)]
        return int(scripts.PROMOTE(self.redis, script_keys, args))

    def bury(self, set_key: str, member: bytes, dead_payload: str) -> None:
        """Move a member that is not a job from `set_key` to the dead set, wrapped."""
        now = time.time()
        pipe = self.redis.pipeline(transaction=True)
        pipe.zrem(set_key, member)
        pipe.zadd(keys.DEAD, {dead_payload: now})
        pipe.zremrangebyscore(keys.DEAD, "-inf", repr(now - self.settings.dead_timeout))
        pipe.zremrangebyrank(keys.DEAD, 0, -(self.settings.dead_max_jobs + 1))
        pipe.execute()
