"""`sidequest worker` as a real child process, which tests can signal and kill."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from tests.support.polling import wait_for

ROOT = Path(__file__).resolve().parents[2]


class WorkerProcess:
    def __init__(
        self,
        redis_url: str,
        log_path: Path,
        *,
        args: Sequence[str] = (),
        requires: Sequence[str] = ("tests.integration.sidequest.fixture_jobs",),
        env: dict[str, str] | None = None,
        unset: Sequence[str] = (),
    ):
        self.redis_url = redis_url
        self.log_path = log_path
        self.args = list(args)
        self.requires = list(requires)
        self.env = env or {}
        #: variables removed from the worker's environment (REDIS_URL, to test without it)
        self.unset = set(unset)
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> WorkerProcess:
        command = [sys.executable, "-m", "sidequest", "worker"]
        for module in self.requires:
            command += ["-r", module]
        command += self.args
        environment = {
            **os.environ,
            "REDIS_URL": self.redis_url,
            "PYTHONPATH": str(ROOT),
            "TEST_REDIS_URL": self.redis_url,
            **self.env,
        }
        for name in self.unset:
            environment.pop(name, None)
        self.log_file = self.log_path.open("ab")
        self.process = subprocess.Popen(
            command, cwd=ROOT, env=environment, stdout=self.log_file, stderr=subprocess.STDOUT
        )
        return self

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def signal(self, signum: int) -> None:
        assert self.process is not None
        self.process.send_signal(signum)

    def kill(self) -> None:
        self.signal(signal.SIGKILL)
        self.wait(10)

    def wait(self, timeout: float) -> int:
        assert self.process is not None
        code = self.process.wait(timeout)
        self.log_file.close()
        return code

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def line_with(self, *parts: str, timeout: float = 10.0) -> str:
        """The first line of the log holding every one of `parts`, once there is one."""
        return wait_for(
            lambda: next(
                (line for line in self.log().splitlines() if all(p in line for p in parts)), ""
            ),
            timeout=timeout,
            message=f"a log line with {parts}",
        )

    def stop(self) -> None:
        """Terminate (if still running) and reap; used by fixtures' teardown."""
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        self.log_file.close()
