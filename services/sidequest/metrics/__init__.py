"""Prometheus metrics for sidequest (needs `prometheus-client`).

- `PrometheusMiddleware`: per-job counters and histograms, recorded by each worker
  process (in multiprocess mode when PROMETHEUS_MULTIPROC_DIR is set).
- `ClusterCollector`: queue sizes, latencies, set sizes and process count read from
  Redis at scrape time; export it once per cluster (the web tier does), not per worker.
- `serve_worker_metrics`: the HTTP exporter that merges every worker process's files.

The worker runtime never imports this package; the worker entry point wires the
middleware in.
"""

from sidequest.metrics.cluster import ClusterCollector
from sidequest.metrics.exposition import merged_registry, serve_worker_metrics
from sidequest.metrics.prometheus import PrometheusMiddleware

__all__ = ["ClusterCollector", "PrometheusMiddleware", "merged_registry", "serve_worker_metrics"]
