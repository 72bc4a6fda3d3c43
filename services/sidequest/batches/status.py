"""A batch as stored in Redis, read into plain values. Pure: no I/O.

The dashboard, the CLI and `Batch.status()` all read the batch hash
(keys.batch) through `BatchStatus.from_hash`; none needs a job class.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

#: callback events, in the order a batch can fire them
EVENTS = ("death", "complete", "success")

#: a member's state, from the batch's sets (keys.batch_pending, batch_failed, batch_dead)
STATES = ("pending", "failed", "succeeded", "dead")


@dataclass(frozen=True)
class Callback:
    """One configured callback: its job class, arguments and queue, and when it fired."""

    event: str
    job_class: str
    args: list[Any]
    queue: str
    jid: str
    fired_at: float | None


@dataclass(frozen=True)
class BatchStatus:
    """Counters and times of one batch.

    `failed` counts members that failed and wait for a retry; `pending` counts every
    member not settled yet (retrying ones included), a child batch being one member.
    """

    bid: str
    description: str
    total: int
    pending: int
    succeeded: int
    failed: int
    dead: int
    created_at: float | None
    done_at: float | None
    parent: str | None
    callbacks: list[Callback] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        """Every member succeeded or died: on_complete fired."""
        return self.done_at is not None

    @property
    def success(self) -> bool:
        """Complete without a dead member: on_success fired."""
        return self.complete and self.dead == 0

    @property
    def progress(self) -> float:
        """Settled members as a fraction of all (1.0 for an empty batch)."""
        return 1.0 if self.total <= 0 else (self.total - self.pending) / self.total

    def fired(self, event: str) -> float | None:
        for callback in self.callbacks:
            if callback.event == event:
                return callback.fired_at
        return None

    def as_dict(self) -> dict[str, Any]:
        return {
            "bid": self.bid,
            "description": self.description,
            "total": self.total,
            "pending": self.pending,
            "succeeded": self.succeeded,
            "failed": self.failed,
            "dead": self.dead,
            "created_at": self.created_at,
            "done_at": self.done_at,
            "parent": self.parent,
            "complete": self.complete,
            "callbacks": [
                {
                    "event": callback.event,
                    "class": callback.job_class,
                    "args": callback.args,
                    "queue": callback.queue,
                    "jid": callback.jid,
                    "fired_at": callback.fired_at,
                }
                for callback in self.callbacks
            ],
        }

    @classmethod
    def from_hash(cls, bid: str, raw: dict[str, str], pending: int, failed: int) -> BatchStatus:
        """From the batch hash and the sizes of its pending and failed sets."""
        return cls(
            bid=bid,
            description=raw.get("description", ""),
            total=_int(raw.get("total")),
            pending=pending,
            succeeded=_int(raw.get("succeeded")),
            failed=failed,
            dead=_int(raw.get("dead")),
            created_at=_float(raw.get("created_at")),
            done_at=_float(raw.get("done_at")),
            parent=raw.get("parent") or None,
            callbacks=[_callback(event, raw) for event in EVENTS if f"cb:{event}" in raw],
        )


def _callback(event: str, raw: dict[str, str]) -> Callback:
    job: dict[str, Any] = {}
    try:
        # Stored without its closing brace: batch_lib.lua appends enqueued_at when it fires.
        parsed = json.loads(raw[f"cb:{event}"] + "}")
        if isinstance(parsed, dict):
            job = parsed
    except ValueError:
        pass
    args = job.get("args")
    return Callback(
        event=event,
        job_class=str(job.get("class", "?")),
        args=args if isinstance(args, list) else [],
        queue=raw.get(f"cbq:{event}", ""),
        jid=str(job.get("jid", "")),
        fired_at=_float(raw.get(f"fired:{event}")),
    )


def _int(value: str | None) -> int:
    try:
        return int(value) if value is not None else 0
    except ValueError:
        return 0


def _float(value: str | None) -> float | None:
    try:
        return float(value) if value else None
    except ValueError:
        return None
