"""Crash the job Redis the way a host crash with `appendfsync everysec` would.

Redis writes each command to the AOF file (write(2), into the page cache) before it
replies, unless an fsync is still running (then it holds writes in memory for up to
2 s), and fsyncs once a second. When only the redis-server process dies (SIGKILL, OOM
killer) the page cache survives and everything written is kept. When the host dies
(power, kernel panic), whatever was written since the last fsync is gone: up to about
a second of acknowledged writes (two when the disk stalls).

`AofHistory` samples the size of the incremental AOF file; `crash_losing` SIGKILLs the
server, cuts the file back to where it was `seconds` ago, as a host crash would leave
it, and starts the server again. Redis loads the cut file (`aof-load-truncated yes`,
its default, drops a half-written command; an unfinished MULTI block from a Lua script
is dropped whole). The server must run with `auto-aof-rewrite-percentage 0` so the
incremental file stays the same during the run.
"""

from __future__ import annotations

import bisect
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from tests.support.redis_server import RedisServer


@dataclass(frozen=True)
class Crash:
    crashed_at: float
    #: writes made after this moment were lost
    rolled_back_to: float
    bytes_lost: int
    up_at: float
    #: the incremental AOF file as it was when the server died, and where it was cut
    #: (Redis then drops a half-written command or transaction at the cut)
    before: bytes = b""
    cut: int = 0


def incremental_files(directory: Path) -> list[Path]:
    """The incremental AOF files, oldest first, from the manifest of its multi-part AOF."""
    aof_dir = directory / "appendonlydir"
    manifest = next(aof_dir.glob("*.manifest"))
    found = []
    for line in manifest.read_text().splitlines():
        fields = line.split()
        if "type" in fields and fields[fields.index("type") + 1] == "i":
            found.append(aof_dir / fields[fields.index("file") + 1])
    if not found:
        raise RuntimeError(f"no incremental AOF file in {manifest}")
    return found


def incremental_file(directory: Path) -> Path:
    """The AOF file Redis appends to now."""
    return incremental_files(directory)[-1]


class AofHistory:
    """The size of the incremental AOF file over time, sampled every `interval` seconds."""

    def __init__(self, server: RedisServer, interval: float = 0.05):
        self.server = server
        self.interval = interval
        self._times: list[float] = []
        self._sizes: list[int] = []
        self._lock = threading.Lock()
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name="aof-history", daemon=True)

    def start(self) -> AofHistory:
        self._sample()
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopped.set()
        self._thread.join(5)

    def _sample(self) -> None:
        try:
            size = incremental_file(self.server.directory).stat().st_size
        except (OSError, StopIteration, RuntimeError):
            return
        with self._lock:
            self._times.append(time.time())
            self._sizes.append(size)

    def _run(self) -> None:
        while not self._stopped.wait(self.interval):
            self._sample()

    def at(self, moment: float) -> tuple[float, int]:
        """(sample time, size) of the last sample taken at or before `moment`."""
        with self._lock:
            index = bisect.bisect_right(self._times, moment) - 1
            if index < 0:
                raise RuntimeError("no AOF sample that old")
            return self._times[index], self._sizes[index]


def crash_losing(server: RedisServer, history: AofHistory, seconds: float) -> Crash:
    """SIGKILL the server, drop the last `seconds` of its AOF, start it again."""
    crashed_at = time.time()
    sampled_at, size = history.at(crashed_at - seconds)
    server.stop(kill=True)
    path = incremental_file(server.directory)
    before = path.read_bytes()
    full = len(before)
    cut = min(size, full)
    os.truncate(path, cut)
    server.start()
    return Crash(crashed_at, sampled_at, full - cut, time.time(), before, cut)
