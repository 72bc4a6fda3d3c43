"""The enqueue adapter of an open `with batch:` block: it collects, the batch pushes.

Inside the block `perform_later` and friends reach this adapter (scoped to the thread
or task, adapter.scoped), which tags each payload with the batch id (`bid`, Sidekiq
Pro's field) and keeps it. When the block ends, the outermost batch pushes every
collected job, and every batch created or reopened inside it, in one batch_push.lua
call: no job of the batch can finish before all of them are counted, and a block that
raises pushes nothing.
"""

from __future__ import annotations

from sidequest.adapter import DebounceSpec, PushResult, UniqueSpec
from sidequest.batches.store import BatchError, Block
from sidequest.payload import JobDict


class Collector:
    def __init__(self, block: Block, outer: Collector | None):
        self.block = block
        self.outer = outer
        #: blocks of batches opened and closed inside this one, outermost first
        self.inner: list[Block] = []

    def push(
        self,
        payload: JobDict,
        *,
        at: float | None = None,
        unique: UniqueSpec | None = None,
        debounce: DebounceSpec | None = None,
    ) -> PushResult:
        if debounce is not None:
            # A later enqueue would replace the member: the batch would wait for ever.
            raise BatchError(f"{payload.get('class')} is debounced: it cannot join a batch")
        if unique is not None:
            # batch_push.lua takes no unique locks: a refused duplicate would leave a
            # member that never runs, and its batch pending forever.
            raise BatchError(f"{payload.get('class')} is unique_for: it cannot join a batch")
        payload["bid"] = self.block.bid
        self.block.jobs.append((payload, at))
        return PushResult(enqueued=True)

    def push_bulk(self, payloads: list[JobDict], *, at: float | None = None) -> None:
        for job in payloads:
            self.push(job, at=at)

    def blocks(self) -> list[Block]:
        """This batch's block, then those of the batches closed inside it."""
        return [self.block, *self.inner]
