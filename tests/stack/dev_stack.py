"""The `make dev` stack as the stack tests run it: the same launcher (`python -m infra.dev`)
in a temporary DEV_DIR, on free ports, with a short Prometheus scrape interval.

    stack = DevStack(tmp_path / "dev", workers=2, spares=2).start()
    stack.supervisorctl("start", "workers:spare_00")
    output = stack.stop()          # SIGINT, as Ctrl-C; checks that nothing is left

The launcher's stdout is collected by a thread, so the tests can wait for its
"is running" line and read what it printed.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType

from infra.dev import processes
from tests.support.polling import wait_for
from tests.support.ports import free_ports

ROOT = Path(__file__).resolve().parents[2]
READY_LINE = "sidequest dev stack is running"
STOPPED_LINE = "stopped; no process of the stack is left"
# What the launcher may see of the caller's environment: nothing that would point the
# stack at another Redis, database or mail server.
PASSED_THROUGH = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "VIRTUAL_ENV")


class DevStack:
    """One `python -m infra.dev` process and what it started."""

    def __init__(
        self,
        dev_dir: Path,
        *,
        workers: int = 2,
        spares: int = 2,
        scrape_interval: str = "1s",
        extra_env: Mapping[str, str] | None = None,
    ):
        self.dev_dir = dev_dir
        names = (
            "WEB_PORT",
            "REDIS_PORT",
            "METRICS_PORT",
            "PROMETHEUS_PORT",
            "SMTP_PORT",
            "MAIL_PORT",
        )
        self.ports = dict(zip(names, free_ports(len(names)), strict=True))
        self.env = {
            **{name: os.environ[name] for name in PASSED_THROUGH if name in os.environ},
            **{name: str(port) for name, port in self.ports.items()},
            "DEV_DIR": str(dev_dir),
            "WORKER_PROCESSES": str(workers),
            "SPARE_WORKER_PROCESSES": str(spares),
            "PROMETHEUS_SCRAPE_INTERVAL": scrape_interval,
            "DEV_SEED_ORDERS": "20000",
            "GUNICORN_WORKERS": "2",
            # A SIGKILLed worker's jobs come back after the heartbeat timeout: keep it short.
            "SIDEQUEST_HEARTBEAT_INTERVAL": "0.5",
            "SIDEQUEST_HEARTBEAT_TIMEOUT": "3",
            "SIDEQUEST_SHUTDOWN_TIMEOUT": "5",
            # A mail delivery killed between its claim and its send is retried once the
            # claim expires (it may have sent): keep that short too.
            "MAIL_CLAIM_LEASE_SECONDS": "5",
            **(extra_env or {}),
        }
        self.process: subprocess.Popen[str] | None = None
        self._lines: list[str] = []
        self._lock = threading.Lock()
        self._reader: threading.Thread | None = None

    # ------------------------------------------------------------------ URLs

    @property
    def web_url(self) -> str:
        return f"http://127.0.0.1:{self.ports['WEB_PORT']}"

    @property
    def redis_url(self) -> str:
        return f"redis://127.0.0.1:{self.ports['REDIS_PORT']}/0"

    @property
    def prometheus_url(self) -> str:
        return f"http://127.0.0.1:{self.ports['PROMETHEUS_PORT']}"

    @property
    def mail_url(self) -> str:
        return f"http://127.0.0.1:{self.ports['MAIL_PORT']}"

    @property
    def worker_metrics_url(self) -> str:
        return f"http://127.0.0.1:{self.ports['METRICS_PORT']}/metrics"

    # ------------------------------------------------------------------ life cycle

    def start(self, timeout: float = 120.0) -> DevStack:
        """Start the launcher and wait for its ready line (every program up)."""
        self.launch()
        try:
            wait_for(self._ready, timeout=timeout, interval=0.1, message="the dev stack to start")
        except BaseException:
            self.stop(check=False)
            raise
        return self

    def launch(self) -> None:
        """Start the launcher without waiting for anything."""
        self.process = subprocess.Popen(
            [sys.executable, "-m", "infra.dev"],
            cwd=ROOT,
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            # Its own process group, as a shell gives a foreground job: signals sent
            # to the test runner's group do not reach it.
            process_group=0,
        )
        self._reader = threading.Thread(target=self._read, name="dev-stack-output", daemon=True)
        self._reader.start()

    def wait_for_exit(self, timeout: float) -> int:
        """Wait until the launcher exits by itself; returns its status."""
        assert self.process is not None
        return self.process.wait(timeout)

    def _read(self) -> None:
        assert self.process is not None and self.process.stdout is not None
        for line in self.process.stdout:
            with self._lock:
                self._lines.append(line.rstrip("\n"))

    def _ready(self) -> bool:
        if READY_LINE in self.output():
            return True
        assert self.process is not None
        if self.process.poll() is not None:
            raise AssertionError(
                f"the launcher exited with {self.process.returncode}:\n{self.output()}"
            )
        return False

    def output(self) -> str:
        with self._lock:
            return "\n".join(self._lines)

    def supervisord_pid(self) -> int:
        return int((self.dev_dir / "run" / "supervisord.pid").read_text().strip())

    def supervisorctl(self, *args: str) -> str:
        result = subprocess.run(
            [
                str(Path(sys.executable).with_name("supervisorctl")),
                "-c",
                str(self.dev_dir / "supervisord.conf"),
                *args,
            ],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        # supervisorctl exits non-zero when a process is not running; callers check.
        return result.stdout + result.stderr

    def process_pid(self, name: str) -> int | None:
        """The pid supervisord reports for group:name, None when it is not running."""
        text = self.supervisorctl("pid", name).strip()
        return int(text) if text.isdigit() and int(text) > 0 else None

    def log(self, program: str) -> str:
        path = self.dev_dir / "log" / f"{program}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def stop(self, signum: int = signal.SIGINT, *, check: bool = True) -> str:
        """Signal the launcher as Ctrl-C would and wait; returns everything it printed.

        With `check`, asserts a clean stop: exit status 0, the launcher's own report,
        and no process of supervisord's session or naming DEV_DIR left.
        """
        if self.process is None:
            return self.output()
        try:
            session: int | None = self.supervisord_pid()
        except (FileNotFoundError, ValueError):
            session = None
        if self.process.poll() is None:
            self.process.send_signal(signum)
            try:
                self.process.wait(timeout=90)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        if self._reader is not None:
            self._reader.join(timeout=10)
        if self.process.stdout is not None:
            self.process.stdout.close()
        left = processes.end_session(session) if session is not None else []
        strays = self.processes_naming_dev_dir()
        for pid in strays:
            os.kill(pid, signal.SIGKILL)
        code = self.process.returncode
        self.process = None
        output = self.output()
        if check:
            assert code == 0, f"the launcher exited with {code}:\n{output}"
            assert STOPPED_LINE in output, output
            assert not left, f"left running in supervisord's session: {left}"
            assert not strays, f"left running outside it: {strays}"
        return output

    def processes_naming_dev_dir(self) -> list[int]:
        """Pids whose command line mentions DEV_DIR (anything that escaped the session)."""
        marker = str(self.dev_dir).encode()
        found = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit() or int(entry.name) == os.getpid():
                continue
            try:
                command = (entry / "cmdline").read_bytes()
            except OSError:
                continue
            if marker in command:
                found.append(int(entry.name))
        return found

    def __enter__(self) -> DevStack:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop(check=exc_type is None)
