"""Reading a job's progress (`sidequest:progress:<jid>`, written by the worker's
ProgressRecorder while the job runs and kept for an hour after it ended)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import redis

from sidequest import keys
from sidequest.adapter import current_adapter
from sidequest.errors import ConfigError


@dataclass(frozen=True)
class Progress:
    """A job's last reported progress."""

    jid: str
    done: float
    total: float | None
    message: str
    updated_at: float | None
    #: when the job ended (None while it runs), and how (succeeded, retried, dead, discarded)
    finished_at: float | None
    outcome: str | None

    @property
    def fraction(self) -> float | None:
        """done / total, within 0..1; None when the total is unknown or zero."""
        if not self.total:
            return None
        return min(1.0, max(0.0, self.done / self.total))

    @property
    def percent(self) -> int | None:
        fraction = self.fraction
        return None if fraction is None else int(fraction * 100)

    def as_dict(self) -> dict[str, Any]:
        return {
            "done": self.done,
            "total": self.total,
            "percent": self.percent,
            "message": self.message,
            "updated_at": self.updated_at,
            "finished_at": self.finished_at,
            "outcome": self.outcome,
        }


def progress(jid: str, client: redis.Redis | None = None) -> Progress | None:
    """The job's progress, or None when it reported none (or it expired).

    Args:
        client: The Redis to read; by default the one `perform_later` pushes to.
    """
    found = _client(client).hgetall(keys.progress(jid))
    return from_hash(jid, found) if found else None


def progresses(jids: list[str], client: redis.Redis | None = None) -> dict[str, Progress]:
    """The progress of each of `jids` that has one, in one round trip."""
    if not jids:
        return {}
    pipe = _client(client).pipeline(transaction=False)
    for jid in jids:
        pipe.hgetall(keys.progress(jid))
    return {
        jid: from_hash(jid, found) for jid, found in zip(jids, pipe.execute(), strict=True) if found
    }


def from_hash(jid: str, fields: dict[Any, Any]) -> Progress:
    """A Progress from the hash's fields (bytes or str); malformed numbers read as unknown."""
    text = {_text(key): _text(value) for key, value in fields.items()}
    return Progress(
        jid=jid,
        done=_number(text.get("done")) or 0.0,
        total=_number(text.get("total")),
        message=text.get("message", ""),
        updated_at=_number(text.get("updated_at")),
        finished_at=_number(text.get("finished_at")),
        outcome=text.get("outcome") or None,
    )


def _client(client: redis.Redis | None) -> redis.Redis:
    if client is not None:
        return client
    found = getattr(current_adapter(), "redis", None)
    if not isinstance(found, redis.Redis):
        raise ConfigError("progress() needs a Redis client: pass client=, or configure sidequest")
    return found


def _text(value: Any) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def _number(text: str | None) -> float | None:
    if not text:
        return None
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None
