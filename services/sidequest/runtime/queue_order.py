"""The order in which a fetch looks at the queues, as Sidekiq decides it.

Without weights the order is strict: the first queue is always emptied first. With
weights, every fetch shuffles a list in which each queue appears `weight` times (at
least once) and keeps the first appearance of each, so `[critical, 3]` comes first
three times as often as a queue of weight 1.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

from sidequest.config import QueueSpec


class QueueOrder:
    def __init__(self, queues: Sequence[QueueSpec], rng: random.Random | None = None):
        self.names = [queue.name for queue in queues]
        self.weighted = any(queue.weight > 0 for queue in queues)
        self._expanded = [queue.name for queue in queues for _ in range(max(queue.weight, 1))]
        self._rng = rng or random.Random()

    def next(self) -> list[str]:
        if not self.weighted:
            return self.names
        expanded = self._expanded[:]
        self._rng.shuffle(expanded)
        return list(dict.fromkeys(expanded))
