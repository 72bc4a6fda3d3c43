"""Batches and chains: groups of jobs with callbacks that fire exactly once.

`Batch` (batch.py) groups jobs and pushes its callbacks when they are done; `chain`
(chain.py) runs jobs one after another. Their bookkeeping lives in the Lua scripts
that finish jobs (batch_lib.lua), so it is one atomic step with each outcome.
"""

from __future__ import annotations

from sidequest.batches.batch import Batch
from sidequest.batches.chain import Chain, Signature, chain
from sidequest.batches.status import BatchStatus, Callback
from sidequest.batches.store import BatchError, BatchNotFound, BatchStore

__all__ = [
    "Batch",
    "BatchError",
    "BatchNotFound",
    "BatchStatus",
    "BatchStore",
    "Callback",
    "Chain",
    "Signature",
    "chain",
]
