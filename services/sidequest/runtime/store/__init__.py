"""Every Redis command the worker runtime sends: one small gateway per role.

- inflight.py   InflightStore: the fetcher's exchange with this process's in-flight
                hash and landing list, requeueing, and the executor's run markers
- heartbeat.py  HeartbeatStore: Sidekiq's process entries and our lease
- recovery.py   RecoveryStore: the jobs of dead processes, the owners set, the
                recovery lock
- schedule.py   ScheduleStore: due jobs of the `schedule` and `retry` sets

The runtime's threads call these methods; none of them builds keys (sidequest.keys)
or Lua calls (sidequest.scripts) itself. Connection errors propagate: each thread's
loop backs off (backoff.py).
"""

from __future__ import annotations


def text(value: bytes | str) -> str:
    """A member or field name as Redis returned it, decoded."""
    return value.decode() if isinstance(value, bytes) else value
