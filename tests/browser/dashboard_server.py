"""`sidequest web` as a real child process on a free port, for the browser tests."""

from __future__ import annotations

import os
import queue
import re
import subprocess
import sys
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
_LISTENING = re.compile(r"sidequest dashboard on (http://\S+/)")


class DashboardServer:
    def __init__(self, redis_url: str, log_path: Path, env: dict[str, str]):
        self.redis_url = redis_url
        self.log_path = log_path
        self.env = env
        self.url = ""
        self.process: subprocess.Popen[str] | None = None

    def start(self, timeout: float = 20.0) -> DashboardServer:
        command = [
            sys.executable,
            "-m",
            "sidequest",
            "web",
            "--port",
            "0",
            "--host",
            "127.0.0.1",
            "--redis-url",
            self.redis_url,
        ]
        self.process = subprocess.Popen(
            command,
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT), **self.env},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        lines: queue.Queue[str] = queue.Queue()
        self._pump_thread = threading.Thread(target=self._pump, args=(lines,), daemon=True)
        self._pump_thread.start()
        try:
            # The server prints its URL once it listens (port 0: the OS picked one).
            while True:
                line = lines.get(timeout=timeout)
                found = _LISTENING.search(line)
                if found:
                    self.url = found.group(1)
                    return self
        except queue.Empty:
            self.stop()
            raise RuntimeError(f"sidequest web did not start; see {self.log_path}") from None

    def _pump(self, lines: queue.Queue[str]) -> None:
        assert self.process is not None and self.process.stdout is not None
        with self.log_path.open("a") as log:
            for line in self.process.stdout:
                log.write(line)
                log.flush()
                lines.put(line)

    def stop(self) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        self._pump_thread.join(10)  # it reads the pipe until the server's EOF
        if self.process.stdout is not None:
            self.process.stdout.close()
        self.process = None
