"""Enqueues the benchmark job through sidequest's ActiveJob-style class methods."""

from __future__ import annotations

from bench.agents.sidequest_jobs import NoopJob


class SidequestClient:
    def enqueue(self, n: int) -> None:
        NoopJob.perform_later(n)

    def enqueue_bulk(self, ns: list[int]) -> None:
        NoopJob.perform_bulk([[n] for n in ns])

    def enqueue_at(self, n: int, due_ms: int) -> None:
        NoopJob.perform_at(due_ms / 1000, n)

    def close(self) -> None:
        pass


def connect(url: str) -> SidequestClient:
    # sidequest_jobs configured the URL from REDIS_URL at import.
    return SidequestClient()
