"""A relay in a process of its own: `python -m tests.integration.sidequest.outbox.relay_process
DATABASE_URL REDIS_URL [--kill-after-push]`.

With `--kill-after-push` it relays one pass and SIGKILLs itself between the Redis push
and the delete of the rows: a relay that dies at the worst moment. Without it, it runs
the relay thread until SIGTERM (printing "ready" once it runs).
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from collections.abc import Sequence
from typing import Any

import redis

from sidequest.outbox import Relay
from tests.integration.sidequest.outbox.conftest import engine_for


def kill_myself(rows: Sequence[Any]) -> None:
    print(f"pushed {len(rows)}", flush=True)
    os.kill(os.getpid(), signal.SIGKILL)


def main(argv: list[str]) -> int:
    database_url, redis_url, *flags = argv
    engine = engine_for(database_url)
    client = redis.Redis.from_url(redis_url)
    if "--kill-after-push" in flags:
        Relay(engine, client, after_push=kill_myself).relay_once()
        return 1  # not reached when there were rows
    relay = Relay(engine, client, poll_interval=float(os.environ.get("POLL_INTERVAL", "0.5")))
    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    relay.start()
    print("ready", flush=True)
    stopped.wait()
    relay.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
