"""The worker processes of a chaos run: slots that are started, hit and restarted.

A slot is one place a worker runs, as one supervisord program would be; each process
started in it is an incarnation with its own pid and log. The fault log records which
pid each fault hit and when, so every execution in the witness can be matched to the
faults of the process that ran it.
"""

from __future__ import annotations

import re
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import redis

from sidequest import keys
from tests.chaos.analysis import Fault
from tests.support.worker_process import WorkerProcess

_REFUSED = re.compile(r"(\d+) job outcomes refused")


@dataclass
class Incarnation:
    slot: int
    pid: int
    log: Path
    started: float
    ended: float | None = None
    how: str = ""  # kill, term, stop, or "exit <code>" when it ended by itself

    def refusals(self) -> int:
        """Outcomes this process reported as refused (fenced) in its log."""
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return sum(int(count) for count in _REFUSED.findall(text))


class Slot:
    def __init__(
        self,
        index: int,
        redis_url: str,
        directory: Path,
        args: list[str],
        env: dict[str, str],
        requires: tuple[str, ...] = ("tests.chaos.chaos_jobs",),
    ):
        self.index = index
        self.requires = requires
        self.redis_url = redis_url
        self.directory = directory
        self.args = args
        self.env = env
        self.process: WorkerProcess | None = None
        self.incarnation: Incarnation | None = None
        self.history: list[Incarnation] = []

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def running(self) -> bool:
        return self.process is not None and self.process.running()

    def start(self) -> Incarnation:
        log = self.directory / f"worker-{self.index}-{len(self.history)}.log"
        self.process = WorkerProcess(
            self.redis_url, log, args=self.args, requires=self.requires, env=self.env
        ).start()
        self.incarnation = Incarnation(self.index, self.process.pid, log, time.time())
        self.history.append(self.incarnation)
        return self.incarnation

    def signal(self, signum: int) -> None:
        assert self.process is not None
        self.process.signal(signum)

    def exit_code(self) -> int | None:
        """The exit status once the process ended (reaping it), else None."""
        if self.process is None or self.process.process is None:
            return None
        return self.process.process.poll()

    def ended(self, how: str) -> Incarnation:
        """Reap the process and close its incarnation."""
        assert self.process is not None and self.incarnation is not None
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.process.kill()  # type: ignore[union-attr]
            self.process.wait(10)
        incarnation = self.incarnation
        incarnation.ended = time.time()
        incarnation.how = how
        self.process = None
        self.incarnation = None
        return incarnation

    def kill(self) -> Fault:
        pid = self.pid
        moment = time.time()
        self.signal(signal.SIGKILL)
        self.ended("kill")
        return Fault("kill", pid, moment, moment)


def identity_of(client: redis.Redis, pid: int) -> str | None:
    """The identity (`host:pid:nonce`) a live worker process beats under."""
    for member in client.smembers(keys.PROCESSES):
        identity = member.decode() if isinstance(member, bytes) else str(member)
        if f":{pid}:" in identity and client.exists(keys.lease(identity)):
            return identity
    return None


def busy(client: redis.Redis, identity: str) -> int:
    value = client.hget(keys.process(identity), "busy")
    return int(value) if value is not None else 0
