"""The files and directories of a dev stack under DEV_DIR, and preparing them for a start.

    DEV_DIR/
      shop.db                 SQLite database (unless DATABASE_URL names another)
      reports/                report files, shared by web and workers
      mail/                   every mail the sink received, one .eml file each
      redis/                  redis-server's append-only file
      prometheus/             Prometheus' time series
      multiproc/web/          prometheus_client files of the gunicorn workers    } emptied
      multiproc/worker/       prometheus_client files of the worker processes    } at start
      log/                    one log file per program, and supervisord's
      run/                    supervisord's pid file and control socket
      supervisord.conf        written at each start
      prometheus.yml          written at each start
      secret_key              the web tier's SECRET_KEY, kept across restarts

The web tier and the workers get a multiprocess directory each: the worker exporter
merges every file of its directory, so sharing one would export the web metrics twice.
"""

from __future__ import annotations

import os
import secrets
import shutil
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Layout:
    dev_dir: Path

    @property
    def database(self) -> Path:
        return self.dev_dir / "shop.db"

    @property
    def reports(self) -> Path:
        return self.dev_dir / "reports"

    @property
    def mail(self) -> Path:
        return self.dev_dir / "mail"

    @property
    def redis(self) -> Path:
        return self.dev_dir / "redis"

    @property
    def prometheus_data(self) -> Path:
        return self.dev_dir / "prometheus"

    @property
    def multiproc_web(self) -> Path:
        return self.dev_dir / "multiproc" / "web"

    @property
    def multiproc_worker(self) -> Path:
        return self.dev_dir / "multiproc" / "worker"

    @property
    def logs(self) -> Path:
        return self.dev_dir / "log"

    @property
    def run(self) -> Path:
        return self.dev_dir / "run"

    @property
    def supervisor_socket(self) -> Path:
        return self.run / "supervisor.sock"

    @property
    def supervisor_pidfile(self) -> Path:
        return self.run / "supervisord.pid"

    @property
    def supervisor_config(self) -> Path:
        return self.dev_dir / "supervisord.conf"

    @property
    def prometheus_config(self) -> Path:
        return self.dev_dir / "prometheus.yml"

    @property
    def secret_key_file(self) -> Path:
        return self.dev_dir / "secret_key"

    def prepare(self) -> None:
        """Create every directory and empty the multiprocess ones.

        prometheus_client names its files by pid and never cleans them: files of a
        previous run would be merged into this run's values (its docs: wipe the
        directory before the processes start).
        """
        for directory in (
            self.reports,
            self.mail,
            self.redis,
            self.prometheus_data,
            self.logs,
            self.run,
        ):
            directory.mkdir(parents=True, exist_ok=True)
        for directory in (self.multiproc_web, self.multiproc_worker):
            if directory.exists():
                shutil.rmtree(directory)
            directory.mkdir(parents=True)

    def secret_key(self) -> str:
        """The web tier's SECRET_KEY: generated once, so sessions survive a restart."""
        path = self.secret_key_file
        if path.is_file():
            key = path.read_text(encoding="ascii").strip()
            if key:
                return key
        key = secrets.token_hex(32)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w", encoding="ascii") as handle:
            handle.write(key + "\n")
        return key
