"""What the job Redis must look like once a run is over and every worker stopped.

- no queue holds a job, `schedule` and `retry` are empty;
- `dead` holds each doomed job exactly once, with its error, and nothing else;
- no in-flight hash, owner, lease or process entry is left behind;
- bounded memory: every key without a TTL is a queue, one of Sidekiq's sets or a stats
  counter (a SCAN with TTL of every key).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable

import redis

from sidequest import keys

#: keys that may live without a TTL: the data users put there and the running totals
PERMANENT = {
    keys.QUEUES,
    keys.SCHEDULE,
    keys.RETRY,
    keys.DEAD,
    keys.STAT_PROCESSED,
    keys.STAT_FAILED,
    keys.PROCESSES,
    keys.OWNERS,
}
PERMANENT_PREFIXES = ("queue:",)


def _text(value: bytes | str) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else value


def keys_without_ttl(client: redis.Redis) -> list[str]:
    """Every key that never expires and is not one of the permanent kinds."""
    found = []
    for key in client.scan_iter(count=1000):
        name = _text(key)
        if name in PERMANENT or name.startswith(PERMANENT_PREFIXES):
            continue
        if client.ttl(key) == -1:
            found.append(name)
    return sorted(found)


def leftovers(client: redis.Redis) -> list[str]:
    """Queued, scheduled, retrying or in-flight jobs; owners and leases."""
    problems = []
    for name in sorted(_text(member) for member in client.smembers(keys.QUEUES)):
        size = client.llen(keys.queue(name))
        if size:
            problems.append(f"queue {name} still holds {size} jobs")
    for set_key in (keys.SCHEDULE, keys.RETRY):
        size = client.zcard(set_key)
        if size:
            sample = [_text(member)[:200] for member in client.zrange(set_key, 0, 2)]
            problems.append(f"{set_key} still holds {size} entries, e.g. {sample}")
    for key in client.scan_iter(match=keys.inflight("*"), count=1000):
        problems.append(f"in-flight hash left behind: {_text(key)} = {client.hgetall(key)}")
    owners = sorted(_text(member) for member in client.smembers(keys.OWNERS))
    if owners:
        problems.append(f"owners left behind: {owners}")
    for key in client.scan_iter(match=keys.lease("*"), count=1000):
        problems.append(f"lease left behind: {_text(key)}")
    return problems


def dead_set_problems(client: redis.Redis, doomed: Iterable[str], error_class: str) -> list[str]:
    """The dead set must hold each doomed job once, with its error, and nothing else."""
    expected = set(doomed)
    seen: Counter[str] = Counter()
    problems = []
    for member in client.zrange(keys.DEAD, 0, -1):
        try:
            entry = json.loads(member)
        except ValueError:
            problems.append(f"dead set entry is not JSON: {member[:200]!r}")
            continue
        jid = str(entry.get("jid", ""))
        seen[jid] += 1
        if jid not in expected:
            problems.append(
                f"unexpected dead job {jid}: {entry.get('error_class')}: "
                f"{str(entry.get('error_message'))[:300]}"
            )
        elif entry.get("error_class") != error_class or not entry.get("error_message"):
            problems.append(f"dead job {jid} has the wrong error: {entry.get('error_class')}")
    for jid, count in seen.items():
        if count > 1:
            problems.append(f"job {jid} is in the dead set {count} times")
    missing = expected - set(seen)
    if missing:
        problems.append(
            f"{len(missing)} doomed jobs are not in the dead set: {sorted(missing)[:5]}"
        )
    return problems
