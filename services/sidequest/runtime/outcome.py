"""How an execution ended, as the fetcher will report it to Redis."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True)
class Ack:
    """Succeeded: remove from the in-flight hash, count, release the unique lock."""

    field: str
    jid: str = ""
    unique_digest: str | None = None


@dataclass(frozen=True)
class Failure:
    """Failed: move to `retry` (at `score`), to `dead`, or drop it (discard)."""

    field: str
    mode: Literal["retry", "dead", "discard"]
    score: float
    payload: str
    jid: str = ""
    unique_digest: str | None = None


Outcome = Ack | Failure
