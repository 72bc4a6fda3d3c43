"""Enqueues the benchmark actor through Dramatiq's ``send`` / ``send_with_options``.

Dramatiq has no bulk enqueue (``group(...).run()`` sends one by one).
"""

from __future__ import annotations

import time

from bench.agents.dramatiq_jobs import noop


class DramatiqClient:
    def enqueue(self, n: int) -> None:
        noop.send(n)

    def enqueue_bulk(self, ns: list[int]) -> None:
        raise NotImplementedError

    def enqueue_at(self, n: int, due_ms: int) -> None:
        # Dramatiq takes a relative delay in integer ms and adds its own "now",
        # taken after ours, so the stored eta is never before due_ms.
        delay = due_ms - int(time.time() * 1000)
        noop.send_with_options(args=(n,), delay=max(delay, 0))

    def close(self) -> None:
        noop.broker.close()


def connect(url: str) -> DramatiqClient:
    return DramatiqClient()
