"""Reading the 16-byte records written by jobs (start times) and producers (sent/due times)."""

from __future__ import annotations

import struct
from pathlib import Path

# The layout of bench/agents/record.py: job argument, epoch seconds.
RECORD = struct.Struct("<qd")


def count(path: Path) -> int:
    """How many records the file holds now (0 when it does not exist yet)."""
    try:
        return path.stat().st_size // RECORD.size
    except FileNotFoundError:
        return 0


def read(path: Path) -> list[tuple[int, float]]:
    if not path.exists():
        return []
    data = path.read_bytes()
    whole = len(data) - len(data) % RECORD.size
    return [(n, t) for n, t in RECORD.iter_unpack(data[:whole])]


def first_times(records: list[tuple[int, float]]) -> tuple[dict[int, float], int]:
    """Earliest time per job argument, and how many records were repeats."""
    earliest: dict[int, float] = {}
    duplicates = 0
    for n, t in records:
        if n in earliest:
            duplicates += 1
            earliest[n] = min(earliest[n], t)
        else:
            earliest[n] = t
    return earliest, duplicates
