"""Pausing queues: `paused` is the set of queues no worker fetches from.

A pause takes effect at every worker's next fetch (exchange.lua reads `paused` in the
same Lua step as its pops) and at its idle queue waiters within milliseconds (the
`sidequest:control` announcement; a job a waiter landed after the pause is put back
at the front of its queue). Running jobs finish; enqueues still land in the queue;
a resume wakes the idle workers at once. The set is Sidekiq Pro's `paused`, so
Sidekiq's own Web UI shows the state, but Ruby Sidekiq workers do not honour it.

Paused queues are runtime state kept in Redis, not configuration: they outlive worker
restarts and deploys until someone resumes them.
"""

from __future__ import annotations

import redis

from sidequest import keys
from sidequest.api.records import text

MAX_QUEUE_NAME = 200


def checked_queue_name(name: str) -> str:
    """`name` if it can name a queue; ValueError saying why otherwise."""
    if not name:
        raise ValueError("a queue name must not be empty")
    if len(name) > MAX_QUEUE_NAME:
        raise ValueError(f"a queue name has at most {MAX_QUEUE_NAME} characters")
    if any(ch.isspace() or not ch.isprintable() for ch in name):
        raise ValueError(f"invalid queue name {name!r}: no spaces or control characters")
    return name


class QueuePauses:
    """Pause and resume queues, and read which are paused."""

    def __init__(self, client: redis.Redis):
        self.redis = client

    def pause(self, name: str) -> bool:
        """Pause queue `name`; False when it was paused already."""
        return self._change(checked_queue_name(name), pause=True)

    def resume(self, name: str) -> bool:
        """Resume queue `name`; False when it was not paused."""
        return self._change(checked_queue_name(name), pause=False)

    def paused(self) -> list[str]:
        """The paused queues, by name."""
        return sorted(text(name) for name in self.redis.smembers(keys.PAUSED))

    def is_paused(self, name: str) -> bool:
        return bool(self.redis.sismember(keys.PAUSED, name))

    def _change(self, name: str, *, pause: bool) -> bool:
        pipe = self.redis.pipeline(transaction=True)
        if pause:
            pipe.sadd(keys.PAUSED, name)
        else:
            pipe.srem(keys.PAUSED, name)
        # Announced even when nothing changed: a worker that missed the first
        # announcement (reconnecting) catches up now rather than at its next re-read.
        pipe.publish(keys.CONTROL_CHANNEL, f"{'pause' if pause else 'resume'} {name}")
        changed, _ = pipe.execute()
        return bool(changed)
