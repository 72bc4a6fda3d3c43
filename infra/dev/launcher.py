"""Running the dev stack's supervisord in the foreground until Ctrl-C or SIGTERM.

supervisord is started in a session of its own. A terminal's Ctrl-C (SIGINT) and
hang-up (SIGHUP) go to the terminal's foreground process group: with supervisord in
it, every program would receive Ctrl-C at the same moment as supervisord (Redis
stopping while the workers still push their jobs back), and a hang-up would make
supervisord reload. Instead this launcher takes the signal and asks supervisord for
its ordered shutdown (SIGTERM: workers first, Redis last). Should the launcher itself
be killed, the kernel sends supervisord SIGTERM (PR_SET_PDEATHSIG), so no stack is
left running without a terminal. Once supervisord has exited, whatever is still in its
session is reported and ended.
"""

from __future__ import annotations

import ctypes
import http.client
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
import xmlrpc.client
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any, TextIO

from infra.dev import processes
from infra.dev.layout import Layout

PR_SET_PDEATHSIG = 1
# supervisord's states that end a start attempt for good.
_FAILED_STATES = {"FATAL", "EXITED", "UNKNOWN"}
_POLL_SECONDS = 0.2


@dataclass(frozen=True)
class Probe:
    """An HTTP URL that answers 200 once its program serves."""

    name: str
    url: str


class StartFailed(RuntimeError):
    """The stack did not come up; the message says which program and why."""


def _die_with_parent() -> None:
    # Runs in the child between fork and exec.
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)


class UnixStreamTransport(xmlrpc.client.Transport):
    """XML-RPC over supervisord's unix control socket (what supervisorctl uses)."""

    def __init__(self, socket_path: Path):
        super().__init__()
        self.socket_path = socket_path

    def make_connection(self, host: Any) -> http.client.HTTPConnection:
        path = str(self.socket_path)

        class Connection(http.client.HTTPConnection):
            def connect(self) -> None:
                import socket  # noqa: PLC0415 - only this connection needs it

                self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                self.sock.settimeout(5)
                self.sock.connect(path)

        return Connection("localhost")


class Supervisor:
    """The supervisord child process and its control interface."""

    def __init__(self, layout: Layout, environment: Mapping[str, str], supervisord: str):
        self.layout = layout
        self.environment = dict(environment)
        self.supervisord = supervisord
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        log = (self.layout.logs / "supervisord.out").open("ab")
        with log:
            self.process = subprocess.Popen(
                [self.supervisord, "-c", str(self.layout.supervisor_config)],
                env=self.environment,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=_die_with_parent,  # noqa: PLW1509 - the launcher has no threads
            )

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def rpc(self) -> Any:
        transport = UnixStreamTransport(self.layout.supervisor_socket)
        return xmlrpc.client.ServerProxy("http://localhost", transport=transport).supervisor

    def states(self) -> dict[str, str]:
        """{group:name: state name} of every process, or {} while supervisord starts."""
        try:
            infos = self.rpc().getAllProcessInfo()
        except (OSError, xmlrpc.client.Error):
            return {}
        return {f"{info['group']}:{info['name']}": info["statename"] for info in infos}

    def stop(self) -> None:
        if self.running():
            assert self.process is not None
            self.process.send_signal(signal.SIGTERM)

    def wait(self) -> int:
        assert self.process is not None
        return self.process.wait()


def http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return int(response.status) == 200
    except (OSError, urllib.error.URLError, http.client.HTTPException):
        return False


def tail(path: Path, lines: int = 15) -> str:
    if not path.is_file():
        return f"    (no log at {path})"
    text = path.read_text(errors="replace").splitlines()[-lines:]
    return "\n".join(f"    {line}" for line in text)


def wait_until_ready(
    supervisor: Supervisor,
    expected: Sequence[str],
    probes: Sequence[Probe],
    timeout: float,
    stopping: Callable[[], bool],
) -> bool:
    """Wait until every expected process runs and every probe answers.

    Returns False when a stop was asked for meanwhile.

    Raises:
        StartFailed: A program failed, supervisord exited, or `timeout` passed.
    """
    deadline = time.monotonic() + timeout
    pending_probes = list(probes)
    states: dict[str, str] = {}
    while True:
        if stopping():
            return False
        if not supervisor.running():
            # The event listener stops supervisord when a program goes FATAL, often
            # before this loop saw the state: report what had not come up yet.
            unstarted = [name for name in expected if states.get(name) != "RUNNING"]
            raise StartFailed(
                "supervisord stopped during start-up; its log:\n"
                + tail(supervisor.layout.logs / "supervisord.log")
                + "\n"
                + tail(supervisor.layout.logs / "supervisord.out", 5)
                + "\n"
                + _failure_report(supervisor.layout, unstarted, states)
            )
        states = supervisor.states() or states
        failed = [name for name in expected if states.get(name) in _FAILED_STATES]
        if failed:
            raise StartFailed(_failure_report(supervisor.layout, failed, states))
        running = states and all(states.get(name) == "RUNNING" for name in expected)
        if running:
            pending_probes = [probe for probe in pending_probes if not http_ok(probe.url)]
            if not pending_probes:
                return True
        if time.monotonic() > deadline:
            waiting = [name for name in expected if states.get(name) != "RUNNING"]
            waiting += [f"{probe.name} ({probe.url})" for probe in pending_probes]
            raise StartFailed(
                f"not up after {timeout:g}s: {', '.join(waiting)}\n"
                + _failure_report(supervisor.layout, waiting, states)
            )
        time.sleep(_POLL_SECONDS)


def _failure_report(layout: Layout, names: Sequence[str], states: Mapping[str, str]) -> str:
    parts = []
    for name in names:
        program = name.split(":")[-1].split(" ")[0]
        state = states.get(name, "not started")
        parts.append(f"  {name}: {state}; last lines of its log:\n{tail(log_of(layout, program))}")
    return "\n".join(parts)


def log_of(layout: Layout, process_name: str) -> Path:
    return layout.logs / f"{process_name}.log"


class Launcher:
    """Runs supervisord until a signal asks to stop; see the module docstring."""

    def __init__(self, supervisor: Supervisor, out: TextIO = sys.stdout):
        self.supervisor = supervisor
        self.out = out
        self.stop_requested = False

    def say(self, text: str) -> None:
        print(text, file=self.out, flush=True)

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        if self.stop_requested:
            self.say("make dev: still stopping (workers finish or push back their jobs)")
            return
        self.stop_requested = True
        self.say(f"\nmake dev: {signal.Signals(signum).name}: stopping every program ...")
        self.supervisor.stop()

    def run(
        self,
        expected: Sequence[str],
        probes: Sequence[Probe],
        timeout: float,
        ready_message: str,
    ) -> int:
        """Start, wait until ready, print `ready_message`, then run until stopped.

        Returns the exit status for the launcher: 0 after a clean stop.
        """
        for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(signum, self._on_signal)
        self.supervisor.start()
        status = 0
        try:
            if wait_until_ready(
                self.supervisor, expected, probes, timeout, lambda: self.stop_requested
            ):
                self.say(ready_message)
        except StartFailed as failure:
            self.say(f"make dev: the stack did not start:\n{failure}")
            status = 1
            self.stop_requested = True
            self.supervisor.stop()
        code = self.supervisor.wait()
        left = processes.end_session(self.supervisor.pid)
        if left:
            self.say("make dev: still running after supervisord exited, now ended:")
            for line in left:
                self.say(f"  {line}")
            status = status or 1
        if not self.stop_requested:
            self.say(f"make dev: supervisord exited on its own (status {code}); see its log")
            status = status or (code or 1)
        else:
            self.say("make dev: stopped; no process of the stack is left")
        return status


def supervisord_binary() -> str:
    """supervisord of this virtual environment (installed with the project's extras)."""
    candidate = Path(sys.executable).with_name("supervisord")
    return str(candidate) if candidate.is_file() else "supervisord"


def environment_for_supervisord(stack: Mapping[str, str], root: Path) -> dict[str, str]:
    """The environment supervisord runs with (and passes to every program)."""
    environment = dict(stack)
    # `python -m infra.dev.mailsink` and the tiers resolve from the checkout.
    existing = environment.get("PYTHONPATH", "")
    environment["PYTHONPATH"] = os.pathsep.join(filter(None, [str(root), existing]))
    return environment
