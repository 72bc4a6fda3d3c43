"""The outbox's metrics (needs `sidequest[metrics]`): gauges read from the database at
scrape time (`OutboxCollector`), and what the relays did (`RelayMetrics`).

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

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from sidequest.outbox.relay import PassResult, status


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


#: commit to push is a few milliseconds with a woken relay; seconds mean a poll or an
#: outage (the histogram's top buckets)
RELAY_LAG_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5, 30, 300)


class RelayMetrics:
    """What a process's relays did: `Relay(..., observer=RelayMetrics().observe)`.

    sidequest_outbox_relayed_total          jobs pushed to Redis by this process's relays
    sidequest_outbox_relay_lag_seconds      enqueue (the row's insert) to push, per job

    Recorded per process (multiprocess mode when PROMETHEUS_MULTIPROC_DIR is set, like
    the job metrics); a row a relay found pushed already is not counted again.
    """

    def __init__(self, registry: CollectorRegistry = REGISTRY):
        self.relayed = Counter(
            "sidequest_outbox_relayed", "Outbox jobs pushed to Redis.", registry=registry
        )
        self.lag = Histogram(
            "sidequest_outbox_relay_lag_seconds",
            "Seconds from an outbox row's insert to its job's push to Redis.",
            buckets=RELAY_LAG_BUCKETS,
            registry=registry,
        )

    def observe(self, result: PassResult) -> None:
        self.relayed.inc(result.pushed)
        for lag in result.lags:
            self.lag.observe(lag)


_process_metrics: RelayMetrics | None = None


def relay_metrics() -> RelayMetrics:
    """This process's RelayMetrics in the default registry, built on first use (a family
    can be registered once per process, and an app may be built more than once)."""
    global _process_metrics
    if _process_metrics is None:
        _process_metrics = RelayMetrics()
    return _process_metrics
