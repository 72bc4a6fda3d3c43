"""The suite's own redis-server: a free port, no persistence, gone when the suite ends.

The system Redis on 6379 is never touched. Between measurements the harness
flushes every key and resets the command statistics, so each run starts from
the same empty server.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

import redis

from bench import procs


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class RedisServer:
    def __init__(self, directory: Path) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError("redis-server is not installed: apt-get install redis-server")
        self.binary = binary
        self.directory = directory
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None
        self._client: redis.Redis | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        argv = [
            self.binary,
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--dir",
            str(self.directory),
            "--save",
            "",
            "--appendonly",
            "no",
            "--protected-mode",
            "yes",
            # Every system opens a handful of connections per worker thread.
            "--maxclients",
            "2000",
            # A thousand async jobs opening their connections at once (bench/async_io.py)
            # overflow the default backlog of 511: the rest wait for SYN retries.
            "--tcp-backlog",
            "4096",
        ]
        self.process = procs.spawn(
            argv, env=os.environ, cwd=self.directory, log=self.directory / "redis.log"
        )
        deadline = time.monotonic() + 10
        while True:
            try:
                if self.client.ping():
                    return
            except redis.ConnectionError:
                pass
            if self.process.poll() is not None:
                raise RuntimeError(f"redis-server exited; see {self.directory / 'redis.log'}")
            if time.monotonic() > deadline:
                raise RuntimeError("redis-server did not answer PING within 10 s")
            time.sleep(0.02)

    @property
    def client(self) -> redis.Redis:
        # One connection, opened before any CONFIG RESETSTAT, so the harness's own
        # traffic during a measurement is only the INFO that reads the result.
        if self._client is None:
            self._client = redis.Redis(port=self.port, decode_responses=True)
        return self._client

    def reset(self) -> None:
        """Empty every database and zero the command statistics."""
        self.client.flushall()
        self.client.config_resetstat()

    def command_calls(self) -> dict[str, int]:
        """Calls per command since the last reset, without the harness's own commands."""
        stats: dict[str, dict[str, int]] = self.client.info("commandstats")
        calls: dict[str, int] = {}
        for key, value in stats.items():
            name = key.removeprefix("cmdstat_")
            if name in {"info", "config|resetstat", "flushall"}:
                continue
            calls[name] = int(value["calls"])
        return calls

    def version(self) -> str:
        info: dict[str, str] = self.client.info("server")
        return str(info["redis_version"])

    def stop(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None
        if self.process is not None:
            procs.stop(self.process)
            self.process = None
