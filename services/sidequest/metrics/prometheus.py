"""Per-job and periodic-tick Prometheus metrics, recorded by a worker middleware.

Every metric is defined here. `processed` counts every finished execution (as Sidekiq's
`stat:processed`), `failed` those that raised; `retried`, `dead` and `discarded` say
what became of the failures; `cancelled` counts running jobs stopped by a cancel (not
failures). Jobs dropped before they start (cancelled or expired) and debounced ones
are cluster-wide counts, exported by metrics/cluster.py. Durations are perform times;
latency is the wait from `enqueued_at` to the start. Busy threads and concurrency are
gauges summed over live processes (`livesum`), so a dead process's values drop out of
the total; so are the async jobs in flight on the event loops and their slots. A loop
blocked by synchronous code for over a second counts once per block in
`sidequest_event_loop_blocked_total`.

Periodic jobs: `sidequest_periodic_lateness_seconds` is the time from a tick to the push
of its job, observed by the one process that pushed it, for ticks pushed on time only: a
tick missed while no worker ran and caught up by its `missed` policy is late by the
downtime, which says nothing of the scheduler and would swamp the histogram. Those
count in `sidequest_periodic_missed_total{name}` (missed ticks, run or dropped). From
the push to the start is `sidequest_job_latency_seconds` of the job's queue.

Limits (sidequest.limits): `sidequest_jobs_parked_total{job_class}` counts refusals of a
concurrency slot (the job waits in its key's parked list), `sidequest_jobs_throttled_total`
refusals of a rate limit's start (the job waits in the schedule set); a job refused
several times counts each time. `sidequest_limit_wait_seconds{job_class}` is the time
from a job's first refusal to its admission (Redis clock), observed once per admission
of a job that had waited.
"""

from __future__ import annotations

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram

from sidequest.middleware import (
    CANCELLED,
    DEAD,
    DISCARDED,
    RETRIED,
    JobContext,
    Middleware,
    ProcessInfo,
)

DURATION_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300)
LATENCY_BUCKETS = (0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 900)
#: a slot freed wakes a parked job within milliseconds; a busy key keeps it for minutes
LIMIT_WAIT_BUCKETS = (0.005, 0.01, 0.05, 0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600)
#: a tick on time is pushed within milliseconds; its grace ends at 60 s at most
PERIODIC_LATENESS_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5, 60)

_OUTCOME_COUNTERS = {RETRIED: "retried", DEAD: "dead", DISCARDED: "discarded"}


class JobMetricSet:
    """The metric families, registered in one registry."""

    def __init__(self, registry: CollectorRegistry = REGISTRY):
        labels = ("queue", "job_class")
        self.processed = Counter(
            "sidequest_jobs_processed",
            "Job executions that finished, failed or not.",
            labels,
            registry=registry,
        )
        self.failed = Counter(
            "sidequest_jobs_failed", "Job executions that raised.", labels, registry=registry
        )
        self.retried = Counter(
            "sidequest_jobs_retried",
            "Failed jobs scheduled for a retry.",
            labels,
            registry=registry,
        )
        self.dead = Counter(
            "sidequest_jobs_dead", "Jobs moved to the dead set.", labels, registry=registry
        )
        self.discarded = Counter(
            "sidequest_jobs_discarded",
            "Failed jobs dropped (discard_on, retry disabled).",
            labels,
            registry=registry,
        )
        self.cancelled = Counter(
            "sidequest_jobs_cancelled",
            "Running jobs stopped by a cancel (JobCancelled, or abandoned after the grace).",
            labels,
            registry=registry,
        )
        self.duration = Histogram(
            "sidequest_job_duration_seconds",
            "Time spent in perform, callbacks included.",
            labels,
            buckets=DURATION_BUCKETS,
            registry=registry,
        )
        self.latency = Histogram(
            "sidequest_job_latency_seconds",
            "Time from enqueue to the start of the execution.",
            ("queue",),
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.busy = Gauge(
            "sidequest_busy_threads",
            "Processor threads running a job now.",
            multiprocess_mode="livesum",
            registry=registry,
        )
        self.concurrency = Gauge(
            "sidequest_concurrency",
            "Processor threads of live worker processes.",
            multiprocess_mode="livesum",
            registry=registry,
        )
        self.async_in_flight = Gauge(
            "sidequest_async_jobs_in_flight",
            "Jobs with an async perform running on the event loop now.",
            multiprocess_mode="livesum",
            registry=registry,
        )
        self.async_concurrency = Gauge(
            "sidequest_async_concurrency",
            "Async job slots (async_concurrency) of live worker processes.",
            multiprocess_mode="livesum",
            registry=registry,
        )
        self.loop_blocked = Counter(
            "sidequest_event_loop_blocked",
            "Times the event loop of async jobs was blocked for over a second.",
            registry=registry,
        )
        self.periodic_lateness = Histogram(
            "sidequest_periodic_lateness_seconds",
            "Time from a periodic tick to the push of its job (ticks pushed on time).",
            buckets=PERIODIC_LATENESS_BUCKETS,
            registry=registry,
        )
        self.periodic_missed = Counter(
            "sidequest_periodic_missed",
            "Periodic ticks missed while no worker ran, caught up or dropped by the policy.",
            ("name",),
            registry=registry,
        )
        self.parked = Counter(
            "sidequest_jobs_parked",
            "Job starts refused a concurrency slot: parked until one frees.",
            ("job_class",),
            registry=registry,
        )
        self.throttled = Counter(
            "sidequest_jobs_throttled",
            "Job starts refused by a rate limit: scheduled for its next start.",
            ("job_class",),
            registry=registry,
        )
        self.limit_wait = Histogram(
            "sidequest_limit_wait_seconds",
            "Time from a job's first refusal by its limits to its admission.",
            ("job_class",),
            buckets=LIMIT_WAIT_BUCKETS,
            registry=registry,
        )


class PrometheusMiddleware(Middleware):
    """Records each execution; children are cached per (queue, class) to keep it cheap."""

    def __init__(self, metrics: JobMetricSet | None = None):
        self.metrics = metrics or JobMetricSet()
        self._children: dict[tuple[str, str], tuple[object, ...]] = {}

    def process_started(self, process: ProcessInfo) -> None:
        self.metrics.concurrency.set(process.concurrency)
        self.metrics.async_concurrency.set(process.async_concurrency)
        self.metrics.busy.set(0)
        self.metrics.async_in_flight.set(0)

    def process_stopping(self, process: ProcessInfo) -> None:
        self.metrics.busy.set(0)
        self.metrics.async_in_flight.set(0)

    def job_started(self, job: JobContext) -> None:
        (self.metrics.async_in_flight if job.on_loop else self.metrics.busy).inc()
        if job.enqueued_at is not None:
            self.metrics.latency.labels(job.queue).observe(
                max(0.0, job.started_at - job.enqueued_at)
            )

    def job_finished(
        self, job: JobContext, outcome: str, duration: float, error: BaseException | None
    ) -> None:
        metrics = self.metrics
        (metrics.async_in_flight if job.on_loop else metrics.busy).dec()
        key = (job.queue, job.job_class)
        children = self._children.get(key)
        if children is None:
            children = (metrics.processed.labels(*key), metrics.duration.labels(*key))
            self._children[key] = children
        processed, histogram = children
        processed.inc()  # type: ignore[attr-defined]
        histogram.observe(duration)  # type: ignore[attr-defined]
        if outcome == CANCELLED:
            metrics.cancelled.labels(*key).inc()
        if error is not None:
            metrics.failed.labels(*key).inc()
            counter = _OUTCOME_COUNTERS.get(outcome)
            if counter is not None:
                getattr(metrics, counter).labels(*key).inc()

    def periodic_enqueued(self, name: str, tick: int, lateness: float, caught_up: bool) -> None:
        if not caught_up:
            self.metrics.periodic_lateness.observe(max(0.0, lateness))

    def periodic_missed(self, name: str, count: int) -> None:
        self.metrics.periodic_missed.labels(name).inc(count)

    def loop_blocked(self, holder: str) -> None:
        self.metrics.loop_blocked.inc()

    def job_limited(self, job_class: str, verdict: str) -> None:
        counter = self.metrics.parked if verdict == "parked" else self.metrics.throttled
        counter.labels(job_class).inc()

    def job_admitted_after_wait(self, job_class: str, waited: float) -> None:
        self.metrics.limit_wait.labels(job_class).observe(waited)
