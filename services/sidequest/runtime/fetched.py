"""A job this process holds: fetched into its in-flight hash, or landed (waiter.py)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(slots=True)
class Fetched:
    """One job this process holds, fetched into the in-flight hash or landed (waiter.py).

    `field` is "" while a landed job is not adopted into the hash yet.
    """

    field: str
    queue: str
    raw: bytes
    landed: bool = False
