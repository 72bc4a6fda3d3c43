"""What the job Redis must look like once a run is over and every worker stopped.

- no queue holds a job, `schedule` and `retry` are empty;
- `dead` holds each doomed job exactly once, with its error, and nothing else;
- no in-flight hash, landing list, owner, lease or process entry is left behind;
- bounded memory: every key without a TTL is a queue, one of Sidekiq's sets or a stats
  counter (a SCAN with TTL of every key).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

import redis

from sidequest import keys
from tests.chaos import ledger

#: keys that may live without a TTL: the data users put there and the running totals
PERMANENT = {
    # Bounded without a TTL: the batch index is trimmed of expired batches as new ones
    # are created, the batch counters are a handful of fields.
    keys.BATCH_INDEX,
    keys.BATCH_STATS,
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


# One atomic read of everything that can still hold a job. Jobs move in a cycle
# (schedule -> queue -> in flight -> queue again on recovery), so separate reads can
# each miss the same job on its way; a script sees one moment. Test-only: it uses KEYS.
_SNAPSHOT = """
local queued = {}
for _, key in ipairs(redis.call('KEYS', 'queue:*')) do
  queued[#queued + 1] = key
  queued[#queued + 1] = redis.call('LLEN', key)
end
local inflight = 0
for _, key in ipairs(redis.call('KEYS', 'sidequest:inflight:*')) do
  inflight = inflight + redis.call('HLEN', key)
end
for _, key in ipairs(redis.call('KEYS', 'sidequest:landing:*')) do
  inflight = inflight + redis.call('LLEN', key)
end
for _, key in ipairs(redis.call('KEYS', 'sidequest:landing:*')) do
  inflight = inflight + redis.call('LLEN', key)
end
return {queued, redis.call('ZCARD', 'schedule'), redis.call('ZCOUNT', 'retry', '-inf', ARGV[1]),
        inflight, redis.call('SMEMBERS', 'sidequest:owners')}
"""


@dataclass(frozen=True)
class Pending:
    queued: dict[str, int]  # queue name -> jobs waiting
    scheduled: int
    retries_due: int
    in_flight: int
    owners: frozenset[str]

    def empty(self, live_owners: Iterable[str] = ()) -> bool:
        return not (
            any(self.queued.values())
            or self.scheduled
            or self.retries_due
            or self.in_flight
            or self.owners - set(live_owners)
        )


def pending(client: redis.Redis, due_before: float) -> Pending:
    """Jobs still queued, scheduled, due for retry or in flight, and owner entries."""
    queued, scheduled, due, in_flight, owners = client.eval(_SNAPSHOT, 0, repr(due_before))
    sizes = {
        _text(key).removeprefix("queue:"): int(size)
        for key, size in zip(queued[::2], queued[1::2], strict=True)
    }
    return Pending(sizes, int(scheduled), int(due), int(in_flight), frozenset(map(_text, owners)))


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
    """Queued, scheduled, retrying or in-flight (or landed) jobs; owners and leases."""
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
    for key in client.scan_iter(match=keys.landing("*"), count=1000):
        problems.append(f"landing list left behind: {_text(key)} = {client.lrange(key, 0, -1)}")
    for key in client.scan_iter(match=keys.landing("*"), count=1000):
        problems.append(f"landing list left behind: {_text(key)} = {client.lrange(key, 0, -1)}")
    owners = sorted(_text(member) for member in client.smembers(keys.OWNERS))
    if owners:
        problems.append(f"owners left behind: {owners}")
    for key in client.scan_iter(match=keys.lease("*"), count=1000):
        problems.append(f"lease left behind: {_text(key)}")
    return problems


def holdings(client: redis.Redis) -> dict[int, set[str]]:
    """pid -> jids of the jobs each worker process holds (in-flight hash and landing list)."""
    held: dict[int, set[str]] = {}
    for prefix in (ledger.INFLIGHT, ledger.LANDING):
        for key in client.scan_iter(match=prefix + b"*", count=1000):
            raws = client.hvals(key) if prefix == ledger.INFLIGHT else client.lrange(key, 0, -1)
            jids = {ledger.jid_of(raw) for raw in raws} - {""}
            held.setdefault(ledger.pid_of(key, prefix), set()).update(jids)
    return held


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
