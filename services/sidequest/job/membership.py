"""The seam between a job and its batch (`self.batch`).

The job API knows a batch only by the id in its payload (`bid`); the batch itself
reads and writes Redis, which the job API never imports. `sidequest/__init__.py`
registers how to open one, as it registers the fallback enqueue adapter.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sidequest.errors import ConfigError

_opener: Callable[[str], Any] | None = None


def set_opener(opener: Callable[[str], Any] | None) -> None:
    global _opener
    _opener = opener


def open_batch(bid: str) -> Any:
    """The batch `bid` (a sidequest.batches.Batch), without reading Redis."""
    if _opener is None:
        raise ConfigError("batches are not available: import sidequest first")
    return _opener(bid)
