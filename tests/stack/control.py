"""Operating a stack: kill a worker process, add some, take the mail server away.

These are operator actions, not part of the stack's HTTP or Redis interface: under
`make dev` they go through supervisorctl (as a developer would), against a Compose
stack through `docker compose` (STACK_COMPOSE, see conftest.py). Counting live worker
processes reads their heartbeats in Redis.
"""

from __future__ import annotations

import json
import os
import shlex
import signal
import subprocess
import time
from typing import Protocol

import redis

from sidequest import keys
from sidequest.api.processes import Process, ProcessSet
from tests.stack.dev_stack import DevStack

# A process counts as live when it beat this recently (heartbeats come every 0.5 s in
# the dev stack the tests start, every 2 s by default).
FRESH_SECONDS = 6.0


def fresh_processes(client: redis.Redis) -> list[Process]:
    """The worker processes with a fresh heartbeat. A SIGKILLed process's hash outlives
    it (with the busy count it last wrote) until its TTL runs out: it is not counted."""
    now = time.time()
    return [process for process in ProcessSet(client).all() if now - process.beat <= FRESH_SECONDS]


def live_processes(client: redis.Redis) -> list[str]:
    """Identities of the worker processes with a fresh heartbeat."""
    return sorted(process.identity for process in fresh_processes(client))


def held_jids(client: redis.Redis, identity: str) -> set[str]:
    """The jobs a worker process holds in Redis (its in-flight hash and landing list):
    written at fetch time, unlike the busy count, which the heartbeat samples every 2 s
    and can miss a burst of short jobs entirely."""
    held = client.hgetall(keys.inflight(identity))
    raws = [raw for field, raw in held.items() if keys.marked_field(str(field)) is None]
    raws += client.lrange(keys.landing(identity), 0, -1)
    return {str(json.loads(raw)["jid"]) for raw in raws}


def busy_processes(client: redis.Redis) -> set[str]:
    """Identities of the live worker processes running a job at their last heartbeat."""
    return {process.identity for process in fresh_processes(client) if process.busy > 0}


class StackControl(Protocol):
    #: The name of a worker process started with the stack (the one tests kill).
    worker_name: str

    def kill(self, name: str, pid: int) -> None:
        """SIGKILL the named worker process, which runs as `pid`."""

    def pid_of(self, name: str) -> int | None:
        """The pid of the named worker process, None while it is not running."""

    def add_processes(self) -> int:
        """Start more worker processes; returns how many."""

    def remove_added(self) -> None:
        """Stop what `add_processes` started (idempotent)."""

    def stop_mail(self) -> None:
        """Stop the SMTP server the workers deliver to."""

    def start_mail(self) -> None:
        """Start it again (idempotent)."""


class DevControl:
    worker_name = "workers:worker_00"

    def __init__(self, stack: DevStack, spares: int):
        self.stack = stack
        self.spares = [f"workers:spare_{n:02d}" for n in range(spares)]

    def kill(self, name: str, pid: int) -> None:
        assert self.pid_of(name) == pid, self.stack.supervisorctl("status")
        os.kill(pid, signal.SIGKILL)

    def pid_of(self, name: str) -> int | None:
        return self.stack.process_pid(name)

    def add_processes(self) -> int:
        output = self.stack.supervisorctl("start", *self.spares)
        assert all(f"{name.split(':')[1]}: started" in output for name in self.spares), output
        return len(self.spares)

    def remove_added(self) -> None:
        self.stack.supervisorctl("stop", *self.spares)

    def stop_mail(self) -> None:
        output = self.stack.supervisorctl("stop", "services:mail")
        assert "mail: stopped" in output, output

    def start_mail(self) -> None:
        self.stack.supervisorctl("start", "services:mail")


class ComposeControl:
    """A Compose stack, operated through `docker compose` (`command`, e.g. `docker compose
    -p NAME`) and supervisorctl inside the first worker container.

    Worker containers added by `add_processes` are removed by `remove_added`, back to the
    replica count found when this object was made (not the Compose file's default).
    """

    SUPERVISORCTL = ("supervisorctl", "-c", "worker/supervisord.conf")
    worker_name = "worker:worker_00"

    def __init__(
        self,
        command: str,
        env: dict[str, str],
        processes_per_replica: int,
        added_replicas: int,
    ):
        self.command = shlex.split(command)
        self.env = {**os.environ, "DOCKER_BUILDKIT": "0", **env}
        self.processes_per_replica = processes_per_replica
        self.added_replicas = added_replicas
        self.replicas = len(self._compose("ps", "-q", "worker").split())

    def _run(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*self.command, *args],
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
            env=self.env,
        )

    def _compose(self, *args: str) -> str:
        result = self._run(*args)
        if result.returncode != 0:
            raise AssertionError(f"{shlex.join(args)}: {result.returncode} {result.stderr}")
        return result.stdout

    def _supervisorctl(self, *args: str) -> subprocess.CompletedProcess[str]:
        # The first replica each time, so a pid read before is that replica's pid.
        return self._run("exec", "-T", "--index", "1", "worker", *self.SUPERVISORCTL, *args)

    def pid_of(self, name: str) -> int | None:
        # While supervisord restarts the program, `pid` prints 0 or an error and exits
        # non-zero; while the container restarts, `exec` fails: not running, either way.
        text = self._supervisorctl("pid", name).stdout.strip()
        return int(text) if text.isdigit() and int(text) > 0 else None

    def kill(self, name: str, pid: int) -> None:
        # supervisorctl, not kill(1): the image has no procps, and supervisord knows the pid.
        assert self.pid_of(name) == pid, f"{name} is no longer pid {pid}"
        result = self._supervisorctl("signal", "KILL", name)
        assert result.returncode == 0, result.stdout + result.stderr

    def scale(self, replicas: int) -> None:
        self._compose(
            "up", "-d", "--no-deps", "--no-recreate", "--scale", f"worker={replicas}", "worker"
        )

    def add_processes(self) -> int:
        self.scale(self.replicas + self.added_replicas)
        return self.added_replicas * self.processes_per_replica

    def remove_added(self) -> None:
        self.scale(self.replicas)

    def stop_mail(self) -> None:
        self._compose("stop", "mailpit")

    def start_mail(self) -> None:
        self._compose("start", "mailpit")
