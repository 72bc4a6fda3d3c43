"""The outbox's gauges, read from the database at scrape time (needs `sidequest[metrics]`).

sidequest_outbox_pending              rows committed and not yet relayed
sidequest_outbox_oldest_age_seconds   how long the oldest of them has waited: the relay
                                      lag (0 when the outbox is empty); it grows while
                                      Redis is down or no relay runs
sidequest_outbox_up                   whether the database answered the scrape

Like the cluster gauges, they belong to one exporter (the web tier's /metrics), not to
every worker, which would each report the same rows.
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from sidequest.outbox.relay import status


class OutboxCollector(Collector):
    def __init__(self, engine: Engine):
        self.engine = engine

    def collect(self) -> Iterator[GaugeMetricFamily]:
        up = GaugeMetricFamily("sidequest_outbox_up", "Whether the outbox's database answered.")
        try:
            found = status(self.engine)
        except SQLAlchemyError:
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        pending = GaugeMetricFamily(
            "sidequest_outbox_pending", "Outbox rows committed and not yet relayed to Redis."
        )
        pending.add_metric([], found.pending)
        yield pending
        age = GaugeMetricFamily(
            "sidequest_outbox_oldest_age_seconds",
            "How long the oldest outbox row has waited for the relay (0: none waits).",
        )
        age.add_metric([], found.oldest_age or 0.0)
        yield age
