"""Serving metrics: one port per worker host merges every worker process's samples."""

from __future__ import annotations

import os
from pathlib import Path
from wsgiref.simple_server import WSGIServer

from prometheus_client import CollectorRegistry, multiprocess, start_http_server

from sidequest.errors import ConfigError


def merged_registry() -> CollectorRegistry:
    """A registry that reads every process's files in PROMETHEUS_MULTIPROC_DIR."""
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if not directory or not Path(directory).is_dir():
        raise ConfigError(
            "PROMETHEUS_MULTIPROC_DIR must name an existing directory shared by the worker "
            "processes (wiped before they start)"
        )
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    return registry


def serve_worker_metrics(port: int, host: str = "0.0.0.0") -> WSGIServer:
    """Start the exporter thread for this host's worker processes; returns its server."""
    server, _thread = start_http_server(port, addr=host, registry=merged_registry())
    return server
