"""`python -m worker.healthcheck`: exit 0 while this host's worker processes beat.

A liveness probe for Compose or Kubernetes: it reads Sidekiq's process set and passes
when at least MIN_HEALTHY_WORKERS (default 1) processes of this hostname wrote a
heartbeat within HEALTHCHECK_MAX_AGE seconds (default 30). Exit 1 otherwise, 2 when
Redis cannot be reached.
"""

from __future__ import annotations

import os
import socket
import sys
import time

import redis

from sidequest import api
from sidequest.connection import DEFAULT_URL, connect


def fresh_processes(client: redis.Redis, hostname: str, max_age: float) -> int:
    now = time.time()
    return sum(
        1
        for process in api.ProcessSet(client).all()
        if process.hostname == hostname and now - process.beat <= max_age
    )


def main() -> int:
    hostname = os.environ.get("DYNO") or socket.gethostname()
    max_age = float(os.environ.get("HEALTHCHECK_MAX_AGE", "30"))
    wanted = int(os.environ.get("MIN_HEALTHY_WORKERS", "1"))
    try:
        client = connect(os.environ.get("REDIS_URL", DEFAULT_URL), socket_timeout=3)
        found = fresh_processes(client, hostname, max_age)
    except redis.RedisError as error:
        print(f"unhealthy: Redis unreachable: {error}", file=sys.stderr)
        return 2
    if found < wanted:
        print(f"unhealthy: {found} of {wanted} processes on {hostname} beat within {max_age:g}s")
        return 1
    print(f"healthy: {found} worker processes on {hostname}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
