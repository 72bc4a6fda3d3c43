"""Flow control at a glance, for `sidequest stats`, the dashboard and the metrics
exporter: the paused queues and the cluster-wide flow counters (`sidequest:flow-stats`).

Each kind of flow control adds its own part to FlowState and reads it in `read()`'s
round trip; `sidequest stats` prints every part under "Flow control".
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import redis

from sidequest import keys
from sidequest.api.records import text

#: the counters of `sidequest:flow-stats`, in the order they are shown
COUNTERS = ("cancelled", "expired", "debounced")


@dataclass(frozen=True)
class FlowState:
    paused: list[str] = field(default_factory=list)
    #: jobs cancelled, expired (dropped unstarted) and debounced (replaced), ever
    counts: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"paused": self.paused, "counts": self.counts}


def read(client: redis.Redis) -> FlowState:
    pipe = client.pipeline(transaction=False)
    pipe.smembers(keys.PAUSED)
    pipe.hmget(keys.FLOW_STATS, list(COUNTERS))
    paused, counts = pipe.execute()
    return FlowState(
        paused=sorted(text(name) for name in paused),
        counts={name: _count(value) for name, value in zip(COUNTERS, counts, strict=True)},
    )


def _count(value: bytes | str | None) -> int:
    try:
        return int(value or 0)
    except ValueError:
        return 0
