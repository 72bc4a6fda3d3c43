"""OpenTelemetry tracing of jobs: `pip install 'sidequest[otel]'`; off unless installed.

    import sidequest.tracing
    middleware = sidequest.tracing.install()      # once per process, after the SDK's setup
    run_worker(settings, [middleware])            # workers: a `process` span per execution

With it, every enqueue through the job API (perform_later, set(...).perform_later,
perform_bulk, the outbox, retry_on's retries) opens a PRODUCER span `send <queue>`, a
child of whatever span is current (a web request's), and writes its W3C trace context
into the payload as `traceparent` (and `tracestate`). A worker opens a CONSUMER span
`process <queue>` around each execution (callbacks included), a child of that
context; jobs enqueued inside it continue the trace, and a retry carries the same
payload, so each attempt is another `process` span under the same `send`.

Attributes follow OpenTelemetry's messaging conventions: messaging.system
(`sidequest`), messaging.operation.type (`send`, `process`) and .name,
messaging.destination.name (the queue), messaging.message.id (the jid),
messaging.batch.message_count (bulk); and sidequest.job.class, sidequest.retry_count,
sidequest.outcome (succeeded, retried, dead, discarded).

`sdk_from_environment()` is the setup the shop's web and worker use: with
`SIDEQUEST_OTEL=1` it installs an SDK TracerProvider exporting over OTLP/HTTP to
`OTEL_EXPORTER_OTLP_ENDPOINT` (the exporter's own variables apply). Nothing here is
imported by `import sidequest`: without this extra, no code of it runs.
"""

from sidequest.tracing.context import TRACE_FIELDS, extract, inject
from sidequest.tracing.enqueue import TracingAdapter
from sidequest.tracing.process import TracingMiddleware
from sidequest.tracing.setup import install, sdk_from_environment, sdk_provider, uninstall

__all__ = [
    "TRACE_FIELDS",
    "TracingAdapter",
    "TracingMiddleware",
    "extract",
    "inject",
    "install",
    "sdk_from_environment",
    "sdk_provider",
    "uninstall",
]
