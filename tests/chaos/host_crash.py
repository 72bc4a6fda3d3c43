"""A host crash of a redis-server, without the host: only what it fsynced survives.

Killing the redis-server process cannot tell fsync policies apart: whatever Redis wrote
to its AOF is in the kernel's page cache, which outlives the process, so `everysec` and
`always` keep the same. A host crash (power loss, kernel panic) loses the page cache:
only what was fsynced survives.

`TracedRedis` runs redis-server under strace, which logs every write(2) to the AOF and
every fsync/fdatasync of it. `crash()` SIGKILLs the server and cuts its incremental AOF
file back to the bytes the last completed fsync covered, which is what the disk would
hold after the host died at that moment; `start()` brings it up again on the cut file.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
from pathlib import Path

import redis

from tests.chaos import aof
from tests.support.redis_server import RedisServer

_SYSCALL = re.compile(
    r"^(?P<tid>\d+)\s+(?P<call>write|fsync|fdatasync)\((?P<fd>\d+)<(?P<path>[^>]*)>"
)
_RESUMED = re.compile(r"^(?P<tid>\d+)\s+<\.\.\. (?P<call>write|fsync|fdatasync) resumed>")
_RESULT = re.compile(r"\)\s+=\s+(?P<result>-?\d+)")


def synced_size(trace: str, path: Path) -> int:
    """Bytes of `path` (written from empty) that a completed fsync/fdatasync covered.

    A sync covers the writes completed before it began; a write or a sync that the kill
    interrupted (no result) counts for nothing.
    """
    written = synced = 0
    pending: dict[str, tuple[str, int]] = {}  # tid -> (call, bytes written when it began)
    target = str(path)
    for line in trace.splitlines():
        started = _SYSCALL.match(line)
        if started:
            if started["path"] != target:
                continue
            call, tid = started["call"], started["tid"]
            if line.rstrip().endswith("<unfinished ...>"):
                pending[tid] = (call, written)
                continue
            began = written
        else:
            resumed = _RESUMED.match(line)
            if not resumed or resumed["tid"] not in pending:
                continue
            call, began = pending.pop(resumed["tid"])
        result = _RESULT.search(line)
        if result is None or int(result["result"]) < 0:
            continue
        if call == "write":
            written += int(result["result"])
        else:
            synced = max(synced, began)
    return synced


class TracedRedis:
    """A redis-server with AOF under strace; `crash()` is a host crash, `start()` recovers."""

    def __init__(self, directory: Path, *, appendfsync: str):
        if shutil.which("strace") is None:
            raise RuntimeError("strace is not installed: `apt-get install strace`")
        self.server = RedisServer(
            directory,
            appendonly=True,
            extra=["--appendfsync", appendfsync, "--auto-aof-rewrite-percentage", "0"],
        )
        self.trace = directory / "strace.log"
        self._tracer: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return self.server.url

    def start_traced(self) -> None:
        """Start the server under strace, from an empty data directory."""
        self.server.start(
            prefix=[
                "strace", "-f", "-qq", "--seccomp-bpf", "--decode-fds=path",
                "-e", "trace=write,fsync,fdatasync", "-o", str(self.trace),
            ]
        )  # fmt: skip
        self._tracer = self.server.process

    def crash(self) -> int:
        """SIGKILL the server and keep only what it fsynced; returns the bytes dropped."""
        assert self._tracer is not None
        client = redis.Redis(port=self.server.port)
        try:
            pid = int(client.info("server")["process_id"])
        finally:
            client.close()
        path = aof.incremental_file(self.server.directory)
        os.kill(pid, signal.SIGKILL)
        self._tracer.wait(10)  # strace ends with its tracee, its log complete
        self.server.process = None
        full = path.stat().st_size
        keep = synced_size(self.trace.read_text(errors="replace"), path.resolve())
        os.truncate(path, keep)
        return full - keep

    def start(self) -> None:
        """Start the server again (without strace) on what the crash left."""
        self.server.start()

    def stop(self) -> None:
        if self.server.process is not None:
            self.server.process.kill()
            self.server.process.wait(10)
            self.server.process = None
