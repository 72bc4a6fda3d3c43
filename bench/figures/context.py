"""What every measurement needs: settings, paths, the Redis server, where results go."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench import procs
from bench.redisd import RedisServer
from bench.samples import Results
from bench.settings import Settings
from bench.systems.base import Paths, System


@dataclass
class Context:
    settings: Settings
    paths: Paths
    server: RedisServer
    scratch: Path  # record files; on tmpfs where the machine has one
    results: Results

    def record_file(self, label: str) -> Path:
        path = self.scratch / f"{label}.rec"
        path.unlink(missing_ok=True)
        return path

    def produce(self, system: System, label: str, *args: str, timeout: float) -> dict[str, Any]:
        """Run the system's producer with one driver command; return its JSON answer."""
        launch = system.producer(self.paths, self.server.url)
        out = procs.run(
            [*launch.argv, *args],
            env=launch.env,
            cwd=self.paths.repo,
            log=self.paths.logs / f"{label}.producer.log",
            timeout=timeout,
        )
        lines = out.strip().splitlines()
        if not lines:
            raise RuntimeError(f"{system.name} producer printed nothing; see {label}.producer.log")
        answer: dict[str, Any] = json.loads(lines[-1])
        return answer
