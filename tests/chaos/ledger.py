"""What the job Redis accepted, read from its append-only file. Pure, no I/O.

The AOF is Redis's own record of every write that changed its data, in the order it
applied them (a Lua script's writes as one MULTI/EXEC block). After a crash that cut
its tail, the file holds exactly the history of the data that survived. Replaying the
in-flight hashes and the lists (queues, landing lists) of that history tells, for every
job, what Redis accepted:

- an **outcome** is the removal of a job from a worker's in-flight hash (or landing
  list) in the same atomic block that counts it in `stat:processed`: an acknowledgement
  (exchange.lua), or a failure (fail.lua, which also counts `stat:failed` and moves the
  job to `retry` or `dead`). A fenced outcome removes nothing, so Redis does not write
  it to the AOF at all: it is not in the ledger;
- any other removal from an in-flight hash or a landing list gives the job back to a
  queue (recovery of a dead process, a requeue at shutdown, an adoption into the hash).

`Ledger.outcomes[(pid, jid)]` counts the accepted outcomes of each kind ("ok" or "fail")
per worker process, the pid read from the process identity (`host:pid:nonce`).

`touched(lost_tail, state)` names the jobs whose writes a crash dropped: replayed on the
state at the cut, the lost blocks show which payloads moved.
"""

from __future__ import annotations

import json
from collections import Counter, deque
from collections.abc import Iterator
from dataclasses import dataclass, field

INFLIGHT = b"sidequest:inflight:"
LANDING = b"sidequest:landing:"
QUEUE = b"queue:"
PROCESSED = b"stat:processed"
FAILED = b"stat:failed"
STARTED = b"started:"


class LedgerError(Exception):
    """The AOF holds a write to a tracked key that this replay does not understand."""


def commands(data: bytes, start: int = 0) -> Iterator[tuple[int, int, list[bytes]]]:
    """(start offset, end offset, arguments) of each complete command in RESP `data`."""
    at = start
    size = len(data)
    while at < size:
        begin = at
        if data[at : at + 1] != b"*":
            raise LedgerError(f"not a RESP array at offset {at}: {data[at : at + 20]!r}")
        line_end = data.find(b"\r\n", at)
        if line_end < 0:
            return
        count = int(data[at + 1 : line_end])
        at = line_end + 2
        args: list[bytes] = []
        for _ in range(count):
            line_end = data.find(b"\r\n", at)
            if line_end < 0 or data[at : at + 1] != b"$":
                return
            length = int(data[at + 1 : line_end])
            value_start = line_end + 2
            if value_start + length + 2 > size:
                return
            args.append(data[value_start : value_start + length])
            at = value_start + length + 2
        if len(args) < count:
            return
        yield begin, at, args


@dataclass
class Block:
    """One atomic step: a MULTI/EXEC transaction (a Lua script's writes), or one command."""

    start: int
    end: int
    commands: list[list[bytes]]


def blocks(data: bytes) -> list[Block]:
    """The complete blocks of `data`; an unfinished transaction at the end is left out."""
    found: list[Block] = []
    pending: Block | None = None
    for begin, end, args in commands(data):
        name = args[0].upper()
        if name == b"MULTI":
            pending = Block(begin, end, [])
        elif name == b"EXEC":
            if pending is None:
                raise LedgerError(f"EXEC without MULTI at offset {begin}")
            pending.end = end
            found.append(pending)
            pending = None
        elif pending is not None:
            pending.commands.append(args)
        else:
            found.append(Block(begin, end, [args]))
    return found


def complete_prefix(data: bytes) -> int:
    """Where Redis cuts a truncated AOF when it loads it: after the last complete block."""
    found = blocks(data)
    return found[-1].end if found else 0


def jid_of(raw: bytes) -> str:
    try:
        job = json.loads(raw)
    except ValueError:
        return ""
    return str(job.get("jid", "")) if isinstance(job, dict) else ""


def pid_of(key: bytes, prefix: bytes) -> int:
    """The pid in `sidequest:inflight:<host>:<pid>:<nonce>` (0 when there is none)."""
    parts = key[len(prefix) :].split(b":")
    try:
        return int(parts[-2])
    except (IndexError, ValueError):
        return 0


@dataclass
class State:
    """The tracked part of the data: in-flight hashes, landing lists and queues."""

    hashes: dict[bytes, dict[bytes, bytes]] = field(default_factory=dict)
    lists: dict[bytes, deque[bytes]] = field(default_factory=dict)


@dataclass
class Moved:
    """What one block did to jobs: removed from where, added where."""

    removed: list[tuple[bytes, bytes]] = field(default_factory=list)  # (key, payload)
    added: list[tuple[bytes, bytes]] = field(default_factory=list)
    names: set[bytes] = field(default_factory=set)  # every key the block wrote


def _tracked(key: bytes) -> bool:
    return key.startswith((INFLIGHT, LANDING, QUEUE))


def _pop(items: deque[bytes], right: bool, count: int) -> list[bytes]:
    taken = []
    for _ in range(min(count, len(items))):
        taken.append(items.pop() if right else items.popleft())
    return taken


def apply(state: State, block: Block) -> Moved:  # noqa: C901, PLR0912 - one branch per command
    """Replay one block on `state`; returns the payloads it moved in tracked keys."""
    moved = Moved()
    for args in block.commands:
        name = args[0].upper()
        if len(args) > 1:
            moved.names.add(args[1])
        if name in {b"SELECT", b"PING"}:
            continue
        if len(args) < 2 or not any(_tracked(key) for key in args[1:3]):
            continue
        key = args[1]
        if name in {b"HSET", b"HMSET"}:
            entries = state.hashes.setdefault(key, {})
            for at in range(2, len(args) - 1, 2):
                entries[args[at]] = args[at + 1]
                if not args[at].startswith(STARTED):
                    moved.added.append((key, args[at + 1]))
        elif name == b"HDEL":
            entries = state.hashes.get(key, {})
            for name_ in args[2:]:
                value = entries.pop(name_, None)
                if value is not None and not name_.startswith(STARTED):
                    moved.removed.append((key, value))
        elif name in {b"DEL", b"UNLINK"}:
            for name_ in args[1:]:
                for value in state.hashes.pop(name_, {}).values():
                    moved.removed.append((name_, value))
                for value in state.lists.pop(name_, deque()):
                    moved.removed.append((name_, value))
        elif name in {b"LPUSH", b"RPUSH"}:
            items = state.lists.setdefault(key, deque())
            for value in args[2:]:
                (items.appendleft if name == b"LPUSH" else items.append)(value)
                moved.added.append((key, value))
        elif name in {b"RPOP", b"LPOP"}:
            count = int(args[2]) if len(args) > 2 else 1
            for value in _pop(state.lists.get(key, deque()), name == b"RPOP", count):
                moved.removed.append((key, value))
        elif name in {b"LMOVE", b"RPOPLPUSH"}:
            source, target = args[1], args[2]
            right_out = name == b"RPOPLPUSH" or args[3].upper() == b"RIGHT"
            left_in = name == b"RPOPLPUSH" or args[4].upper() == b"LEFT"
            moved.names.add(target)
            for value in _pop(state.lists.get(source, deque()), right_out, 1):
                items = state.lists.setdefault(target, deque())
                (items.appendleft if left_in else items.append)(value)
                moved.removed.append((source, value))
                moved.added.append((target, value))
        elif name == b"LREM":
            items = state.lists.get(key, deque())
            count, value = int(args[2]), args[3]
            if count != 1:
                raise LedgerError(f"LREM with count {count} on {key!r}")
            if value in items:
                items.remove(value)
                moved.removed.append((key, value))
        elif name in {b"PEXPIREAT", b"EXPIRE", b"PEXPIRE", b"EXPIREAT", b"PERSIST"}:
            continue
        else:
            raise LedgerError(f"unexpected {name!r} on a tracked key {key!r}")
    return moved


@dataclass
class Ledger:
    #: (pid, jid) -> accepted outcomes by kind: "ok" (acknowledged) or "fail"
    outcomes: dict[tuple[int, str], Counter[str]] = field(default_factory=dict)
    #: (pid, jid) -> times the job was taken from that process's hands without an
    #: outcome (recovered, requeued)
    taken_back: Counter[tuple[int, str]] = field(default_factory=Counter)
    state: State = field(default_factory=State)

    def accepted(self, pid: int, jid: str, kind: str) -> int:
        counts = self.outcomes.get((pid, jid))
        return counts[kind] if counts else 0

    def final_outcomes(self, jid: str) -> Counter[str]:
        total: Counter[str] = Counter()
        for (_, job), counts in self.outcomes.items():
            if job == jid:
                total.update(counts)
        return total


def _holder(key: bytes) -> bytes | None:
    if key.startswith(INFLIGHT):
        return INFLIGHT
    if key.startswith(LANDING):
        return LANDING
    return None


def read(data: bytes, state: State | None = None) -> Ledger:
    """Replay an AOF's blocks and sort out what Redis accepted."""
    ledger = Ledger(state=state or State())
    for block in blocks(data):
        moved = apply(ledger.state, block)
        if not moved.removed:
            continue
        outcome = PROCESSED in moved.names
        kind = "fail" if FAILED in moved.names else "ok"
        adopted = {value for key, value in moved.added if key.startswith(INFLIGHT)}
        for key, value in moved.removed:
            prefix = _holder(key)
            if prefix is None:
                continue
            pid, jid = pid_of(key, prefix), jid_of(value)
            if outcome and not (prefix == LANDING and value in adopted):
                ledger.outcomes.setdefault((pid, jid), Counter())[kind] += 1
            elif not (prefix == LANDING and value in adopted):
                ledger.taken_back[(pid, jid)] += 1
    return ledger


def touched(lost: bytes, state: State) -> set[str]:
    """The jobs a crash took writes of: every payload the lost blocks moved."""
    jids: set[str] = set()
    for block in blocks(lost):
        moved = apply(state, block)
        jids.update(jid_of(value) for _, value in moved.removed + moved.added)
    jids.discard("")
    return jids
