"""Hands the jobs of dead worker processes back to their queues.

A process is dead when its lease (`sidequest:lease:<identity>`, renewed at every beat)
has expired. Its in-flight hash then holds exactly the jobs it had fetched and not
finished; recover.lua pushes them to the front of their queues, checking in the same
step that the lease is still missing, so a process that was only frozen (SIGSTOP, a
long GC pause) and came back keeps its jobs. A job recovered `max_recoveries` times is
a poison pill (it keeps killing its process) and goes to the dead set instead.

Every process runs this from its heartbeat thread; a short lock makes one of them do
the scan per interval. A process recovers others only after its own connection has
been healthy for a while: after a Redis restart every lease is gone at once, and the
others need a moment to beat again.
"""

from __future__ import annotations

import json
import logging
import time

from sidequest import payload
from sidequest.config import Settings
from sidequest.errors import PoisonPillError
from sidequest.runtime import failure
from sidequest.runtime.store import RecoveryEntry, WorkerStore

logger = logging.getLogger("sidequest")


class Recovery:
    def __init__(self, store: WorkerStore, settings: Settings):
        self.store = store
        self.settings = settings

    def run(self) -> int:
        """Recover every dead owner's jobs; returns how many jobs moved."""
        if not self.store.try_recovery_lock(self.settings.heartbeat_interval):
            return 0
        owners = [owner for owner in self.store.owners() if owner != self.store.identity]
        if not owners:
            return 0
        moved = 0
        for owner, alive in zip(owners, self.store.leases(owners), strict=True):
            if not alive:
                moved += self.recover(owner)
        self.store.prune_processes()
        return moved

    def recover(self, owner: str) -> int:
        inflight = self.store.inflight(owner)
        jids = {field: _jid_of(raw) for field, raw in inflight.items()}
        counts = self.store.recovery_counts([jid for jid in jids.values() if jid])
        entries: list[RecoveryEntry] = []
        for field, raw in inflight.items():
            queue = field.partition(":")[2]
            jid = jids[field]
            recovered = counts.get(jid, 0) if jid else 0
            dead = None
            if recovered >= self.settings.max_recoveries:
                dead = self._poison_payload(raw, queue, recovered)
            entries.append(RecoveryEntry(field, queue, jid, dead))
        moved = self.store.recover(owner, entries)
        if moved > 0:
            poisoned = sum(1 for entry in entries if entry.dead_payload is not None)
            logger.warning(
                "recovered %d jobs of dead process %s (%d poison pills to the dead set)",
                moved,
                owner,
                poisoned,
            )
        return max(moved, 0)

    def _poison_payload(self, raw: bytes, queue: str, recovered: int) -> str:
        now = time.time()
        error = PoisonPillError(
            f"the job was running in {recovered + 1} worker processes that died "
            f"(SIGKILL, OOM or crash); not retried after {recovered} recoveries"
        )
        try:
            job = payload.decode(raw)
        except Exception:
            return failure.wrap_malformed(raw, queue, error, now)
        failure.record_error(job, error, now)
        return payload.encode(job)


def _jid_of(raw: bytes) -> str:
    try:
        job = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return ""
    jid = job.get("jid") if isinstance(job, dict) else None
    return jid if isinstance(jid, str) else ""
