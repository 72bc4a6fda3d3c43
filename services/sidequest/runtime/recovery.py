"""Hands the jobs of dead worker processes back to their queues.

A process is dead when its lease (`sidequest:lease:<identity>`, renewed at every beat)
has expired. Its in-flight hash then holds exactly the jobs it had fetched and not
finished; recover.lua pushes them back, checking in the same step that the lease is
still missing, so a process that was only frozen (SIGSTOP, a long pause) and came back
keeps its jobs.

Poison pills: a job that kills its process every time it runs must not take worker
after worker down forever. Each recovery is charged to a job (`sidequest:recoveries`),
and a job charged more than `max_recoveries` times goes to the dead set. To charge
the culprit rather than the jobs that merely shared its process:
- a job recovered for the first time is charged (nothing tells it apart yet) and
  marked in its payload (`recoveries`);
- a worker running a marked job notes it in the in-flight hash (`started:<field>`)
  while it runs, so a later recovery charges a marked job only if it was running;
- a job that one more charge would bury runs alone in its process (isolation.py), so
  it is only ever buried by a crash it had to itself, never for running beside a pill;
- marked jobs go to the back of their queue, away from the batch they died with,
  first-time ones to the front.

Every process runs this from its heartbeat thread; a short lock makes one of them do
the scan per interval. A process recovers others only after its own connection has
been healthy for a while: after a Redis restart every lease is gone at once, and the
others need a moment to beat again.
"""

from __future__ import annotations

import logging
import time
from dataclasses import replace

from sidequest import keys, payload
from sidequest.config import Settings
from sidequest.errors import MalformedPayloadError, PoisonPillError
from sidequest.runtime import failure, links
from sidequest.runtime.store.recovery import RecoveryEntry, RecoveryMode, RecoveryStore

logger = logging.getLogger("sidequest")

RECOVERIES_FIELD = "recoveries"


class Recovery:
    def __init__(self, store: RecoveryStore, settings: Settings):
        self.store = store
        self.settings = settings

    def run(self) -> int:
        """Recover every dead owner's jobs; returns how many jobs moved."""
        if not self.store.try_recovery_lock(self.settings.heartbeat_interval):
            return 0
        owners = [owner for owner in self.store.owners() if owner != self.store.identity]
        moved = 0
        if owners:
            for owner, alive in zip(owners, self.store.leases(owners), strict=True):
                if not alive:
                    moved += self.recover(owner)
        self.store.prune_processes()
        return moved

    def recover(self, owner: str) -> int:
        inflight = self.store.inflight_of(owner)
        markers = {name: keys.marked_field(name) for name in inflight}
        started = {field for field in markers.values() if field is not None}
        jobs = {name: raw for name, raw in inflight.items() if markers[name] is None}
        decoded = {field: _decode(raw) for field, raw in jobs.items()}
        jids = [str(job.get("jid")) for job in decoded.values() if job and job.get("jid")]
        charged = self.store.recovery_counts(jids)
        entries = [
            self._plan(
                field, keys.inflight_queue(field), raw, decoded[field], charged, field in started
            )
            for field, raw in jobs.items()
        ]
        # Landed jobs went to a processor the moment they landed: count them as running.
        for raw in self.store.landing_of(owner):
            landed_job = _decode(raw)
            if landed_job is not None and landed_job.get("jid"):
                charged.update(self.store.recovery_counts([str(landed_job["jid"])]))
            queue = str(landed_job.get("queue", "")) if landed_job is not None else ""
            planned = self._plan("", queue, raw, landed_job, charged, True)
            entries.append(replace(planned, landed_raw=raw))
        moved = self.store.recover(owner, entries)
        if moved > 0:
            poisoned = sum(1 for entry in entries if entry.mode == "dead")
            logger.warning(
                "recovered %d jobs of dead process %s (%d poison pills to the dead set)",
                moved,
                owner,
                poisoned,
            )
        return max(moved, 0)

    def _plan(
        self,
        field: str,
        queue: str,
        raw: bytes,
        job: payload.JobDict | None,
        charged: dict[str, int],
        was_running: bool,
    ) -> RecoveryEntry:
        if job is None:
            if not queue:
                # Not a job, and landed from a queue we cannot name: bury it as such.
                error = MalformedPayloadError("a landed queue entry that is not a job")
                return RecoveryEntry(
                    field, queue, "", "dead", failure.wrap_malformed(raw, "", error, time.time())
                )
            # Not a job at all: it goes back and will die on arrival with its reason.
            return RecoveryEntry(field, queue, "", "front", raw.decode("utf-8", "replace"))
        jid = str(job.get("jid", ""))
        marked = bool(job.get(RECOVERIES_FIELD))
        blamed = bool(jid) and (was_running or not marked)
        count = charged.get(jid, 0) + (1 if blamed else 0)
        if blamed and count > self.settings.max_recoveries:
            buried = self._poison_payload(job, count)
            return RecoveryEntry(
                field, queue, "", "dead", buried, bid=links.bid_of(job), member=jid
            )
        job[RECOVERIES_FIELD] = count
        mode: RecoveryMode = "back" if marked else "front"
        return RecoveryEntry(field, queue, jid if blamed else "", mode, payload.encode(job))

    def _poison_payload(self, job: payload.JobDict, count: int) -> str:
        error = PoisonPillError(
            f"the job was running in {count} worker processes that died (SIGKILL, OOM or "
            f"crash); it is not retried after {count - 1} recoveries"
        )
        failure.record_error(job, error, time.time())
        return payload.encode(job)


def _decode(raw: bytes) -> payload.JobDict | None:
    try:
        return payload.decode(raw)
    except MalformedPayloadError:
        return None
