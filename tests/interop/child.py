"""A child process with a log file that a fixture must stop at teardown."""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Sequence
from pathlib import Path


class Child:
    """One process started by the interop tests; `stop()` always reaps it."""

    def __init__(
        self,
        command: Sequence[str],
        log_path: Path,
        *,
        cwd: Path,
        env: dict[str, str],
        stdin: int | None = None,
        stdout: int | None = None,
    ):
        self.log_path = log_path
        self._log = log_path.open("ab")
        self.process = subprocess.Popen(
            list(command),
            cwd=cwd,
            env={**os.environ, **env},
            stdin=stdin,
            stdout=stdout if stdout is not None else self._log,
            stderr=self._log,
        )

    @property
    def pid(self) -> int:
        return self.process.pid

    def running(self) -> bool:
        return self.process.poll() is None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self, grace: float = 15.0) -> int:
        """SIGTERM, then SIGKILL after `grace` seconds; returns the exit status."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(grace)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        for stream in (self.process.stdin, self.process.stdout):
            if stream is not None:
                stream.close()
        self._log.close()
        return self.process.returncode
