"""How an execution ended, as the fetcher will report it to Redis.

Plain slotted dataclasses rather than frozen ones: one is built per job, and frozen
dataclasses pay for `object.__setattr__` on every field. `field` is "" for a landed
job that the fetcher has not adopted yet; it resolves it from `job` before writing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from sidequest.runtime.fetched import Fetched


@dataclass(slots=True)
class Ack:
    """Succeeded: remove from the in-flight hash, count, release the unique lock."""

    field: str
    jid: str = ""
    unique_digest: str | None = None
    #: the job carried a start marker (it had been recovered before)
    marked: bool = False
    #: the job itself: a landed job gets its field when adopted, after this was made
    job: Fetched | None = None


# What fail.lua does with a failed execution: schedule a retry, bury it, or drop it.
FailureMode = Literal["retry", "dead", "discard"]


@dataclass(slots=True)
class Failure:
    """Failed: move to `retry` (at `score`), to `dead`, or drop it (discard)."""

    field: str
    mode: FailureMode
    score: float
    payload: str
    jid: str = ""
    unique_digest: str | None = None
    job: Fetched | None = None


Outcome = Ack | Failure
