"""The web tier served by a real gunicorn process, and a small HTTP client for it.

    with GunicornServer(env, tmp_path / "gunicorn.log") as web:
        answer = http("POST", web.url("/api/reports"), json_body={...})

gunicorn runs `web.wsgi:app` with web/gunicorn.conf.py, bound to a free port on
127.0.0.1; `env` sets the app's variables (REDIS_URL, DATABASE_URL, ...).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from dataclasses import dataclass
from email.message import Message
from pathlib import Path
from types import TracebackType
from typing import Any

from tests.support.polling import wait_for
from tests.support.ports import free_port

ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class HttpAnswer:
    """What the server answered."""

    status: int
    headers: Message
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def http(
    method: str,
    url: str,
    *,
    json_body: Any = None,
    data: bytes | None = None,
    headers: dict[str, str] | None = None,
    timeout: float = 10.0,
) -> HttpAnswer:
    """One request; 4xx and 5xx answers are returned, not raised."""
    sent_headers = dict(headers or {})
    if json_body is not None:
        data = json.dumps(json_body).encode()
        sent_headers.setdefault("Content-Type", "application/json")
    request = urllib.request.Request(url, data=data, method=method, headers=sent_headers)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return HttpAnswer(response.status, response.headers, response.read())
    except urllib.error.HTTPError as error:
        with error:
            return HttpAnswer(error.code, error.headers, error.read())


class GunicornServer:
    """`gunicorn -c web/gunicorn.conf.py web.wsgi:app` as a child process."""

    def __init__(
        self, env: dict[str, str], log_path: Path, *, workers: int = 1, threads: int = 4
    ) -> None:
        self.port = free_port()
        self.log_path = log_path
        self.env = {
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "BIND": f"127.0.0.1:{self.port}",
            "GUNICORN_WORKERS": str(workers),
            "GUNICORN_THREADS": str(threads),
            "GUNICORN_ACCESS_LOG": "",
            **env,
        }
        self.process: subprocess.Popen[bytes] | None = None

    def url(self, path: str = "/") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def start(self, timeout: float = 30.0) -> GunicornServer:
        """Start gunicorn and wait until /healthz answers 200."""
        command = [sys.executable, "-m", "gunicorn", "-c", "web/gunicorn.conf.py", "web.wsgi:app"]
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                command, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT
            )
        wait_for(self._healthy, timeout=timeout, interval=0.05, message="gunicorn /healthz")
        return self

    def _healthy(self) -> bool:
        assert self.process is not None
        if self.process.poll() is not None:
            raise AssertionError(f"gunicorn exited with {self.process.returncode}:\n{self.log()}")
        try:
            return http("GET", self.url("/healthz"), timeout=2).status == 200
        except OSError:
            return False

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self, timeout: float = 30.0) -> int:
        """SIGTERM (gunicorn's graceful shutdown) and reap; returns the exit status."""
        if self.process is None:
            return 0
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        code = self.process.returncode
        self.process = None
        return code

    def __enter__(self) -> GunicornServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()
