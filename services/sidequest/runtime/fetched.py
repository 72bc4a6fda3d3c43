"""A job this process holds, and where in Redis it is held."""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Holding(enum.Enum):
    """Where a job this process holds sits in Redis, which decides how its outcome is
    written (landing.py). Only the fetcher thread moves a job from one to the next."""

    #: in the in-flight hash under `field`, where an exchange (or a reconcile) found it
    FETCHED = "fetched"
    #: in the landing list (waiter.py), running or about to; not adopted yet, no field
    LANDED = "landed"
    #: landed, then moved into the in-flight hash under `field` by an exchange
    ADOPTED = "adopted"
    #: landed, then recovered by another process before we adopted it: no field, and
    #: every outcome of it is refused (the other process runs it again)
    GONE = "gone"


@dataclass(slots=True, eq=False)
class Fetched:
    """One job this process holds. Compared by identity: two equal payloads are two jobs."""

    field: str  # "<token>:<queue>" while FETCHED or ADOPTED, else ""
    queue: str
    raw: bytes
    state: Holding = Holding.FETCHED
