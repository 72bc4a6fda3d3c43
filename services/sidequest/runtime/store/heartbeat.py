"""The heartbeat's gateway: Sidekiq's process entries and our lease.

1. beat: write the process hash and the work hashes, renew the lease and the owner
   entry, and take a signal a UI pushed, in one transaction
2. measure the round trip to Redis (the process hash's rtt_us)
3. remove our entries at a clean exit
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import redis

from sidequest import keys
from sidequest.config import Settings


@dataclass(frozen=True)
class Beat:
    """The heartbeat's view of the process, written to Sidekiq's process hash."""

    info: str
    busy: int
    quiet: bool
    rss_kb: int
    rtt_us: int
    concurrency: int
    work: dict[str, str]
    legacy_work: dict[str, str]


class HeartbeatStore:
    def __init__(self, client: redis.Redis, identity: str, settings: Settings):
        self.redis = client
        self.identity = identity
        self.settings = settings

    def beat(self, beat: Beat) -> str | None:
        """Write the heartbeat and renew the lease; returns a pending signal, if any."""
        identity = self.identity
        pipe = self.redis.pipeline(transaction=True)
        pipe.sadd(keys.PROCESSES, identity)
        # Owners before the lease: whoever sees our lease must also see us as an owner.
        pipe.sadd(keys.OWNERS, identity)
        pipe.set(keys.lease(identity), "1", px=int(self.settings.heartbeat_timeout * 1000))
        pipe.hset(
            keys.process(identity),
            mapping={
                "info": beat.info,
                "busy": beat.busy,
                "beat": repr(time.time()),
                "quiet": "true" if beat.quiet else "false",
                "rss": beat.rss_kb,
                "rtt_us": beat.rtt_us,
                "concurrency": beat.concurrency,
            },
        )
        pipe.expire(keys.process(identity), keys.PROCESS_TTL_SECONDS)
        for key, work in (
            (keys.work(identity), beat.work),
            (keys.legacy_workers(identity), beat.legacy_work),
        ):
            pipe.delete(key)
            if work:
                pipe.hset(key, mapping=work)  # type: ignore[arg-type]
                pipe.expire(key, keys.PROCESS_TTL_SECONDS)
        pipe.rpop(keys.signals(identity))
        signal = pipe.execute()[-1]
        return signal.decode() if isinstance(signal, bytes) else None

    def ping_us(self) -> int:
        started = time.perf_counter()
        self.redis.ping()
        return int((time.perf_counter() - started) * 1_000_000)

    def clear_process(self) -> None:
        """Remove our heartbeat at a clean exit (Sidekiq's clear_heartbeat, plus our lease)."""
        identity = self.identity
        pipe = self.redis.pipeline(transaction=True)
        pipe.srem(keys.PROCESSES, identity)
        pipe.delete(keys.process(identity), keys.work(identity), keys.legacy_workers(identity))
        pipe.delete(keys.lease(identity))
        pipe.hlen(keys.inflight(identity))
        pipe.llen(keys.landing(identity))
        held, landed = pipe.execute()[-2:]
        if held == 0 and landed == 0:
            self.redis.srem(keys.OWNERS, identity)
