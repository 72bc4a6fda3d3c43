"""A real Ruby Sidekiq worker (`sidekiq -r ./interop_job.rb`) on the test Redis."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import redis

from tests.interop.child import Child
from tests.interop.ruby_console import RUBY_DIR, require_ruby_sidekiq
from tests.support.polling import wait_for


class SidekiqProcess:
    """Debian's `sidekiq` binary running the jobs of ruby/interop_job.rb."""

    def __init__(self, child: Child, identity: str):
        self.child = child
        self.identity = identity

    @classmethod
    def start(
        cls,
        redis_url: str,
        log_path: Path,
        *,
        queues: tuple[str, ...] = ("ruby",),
        concurrency: int = 2,
    ) -> SidekiqProcess:
        require_ruby_sidekiq()
        binary = shutil.which("sidekiq")
        assert binary is not None
        command = [binary, "-r", "./interop_job.rb", "-c", str(concurrency), "-t", "5"]
        for queue in queues:
            command += ["-q", queue]
        child = Child(command, log_path, cwd=RUBY_DIR, env={"REDIS_URL": redis_url})
        client = redis.Redis.from_url(redis_url, decode_responses=True)
        try:
            identity = wait_for(
                lambda: _identity_of(client, child),
                timeout=30,
                interval=0.05,
                message=f"Sidekiq's first heartbeat (log: {log_path})",
            )
        except AssertionError:
            child.stop()
            raise
        finally:
            client.close()
        return cls(child, identity)

    @property
    def pid(self) -> int:
        return self.child.pid

    def stop(self) -> int:
        return self.child.stop(grace=15)


def _identity_of(client: redis.Redis, child: Child) -> str | None:
    """The identity whose heartbeat names our child's pid (None until it has beaten)."""
    if not child.running():
        raise AssertionError(f"sidekiq exited early:\n{child.log()[-3000:]}")
    for identity in client.smembers("processes"):
        info = client.hget(identity, "info")
        if info and json.loads(info).get("pid") == child.pid:
            return str(identity)
    return None
