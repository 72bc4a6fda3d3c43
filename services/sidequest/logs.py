"""Logging set-up for the worker and CLI: text lines or one JSON object per line."""

from __future__ import annotations

import json
import logging
import sys
import threading
import time
from datetime import UTC, datetime

from sidequest.errors import ConfigError

# Attributes that job log lines attach through `extra=`.
_FIELDS = ("event", "jid", "job_class", "queue", "outcome", "duration", "error_class")


class JsonFormatter(logging.Formatter):
    """`{"ts": ..., "level": ..., "logger": ..., "msg": ..., "pid": ..., ...}` per line."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
            "pid": record.process,
            "tid": threading.get_ident() if record.thread is None else record.thread,
        }
        for name in _FIELDS:
            value = record.__dict__.get(name)
            if value is not None:
                entry[name] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


TEXT_FORMAT = "%(asctime)s pid=%(process)d tid=%(threadName)s %(levelname)s %(name)s: %(message)s"


class TextFormatter(logging.Formatter):
    """The text format, with the timestamp's date and time formatted once per second.

    A worker logs two lines per job; `time.strftime` on every line would cost more than
    running a no-op job.
    """

    def __init__(self) -> None:
        super().__init__(TEXT_FORMAT)
        self._second = -1
        self._prefix = ""

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        second = int(record.created)
        if second != self._second:
            self._second = second
            self._prefix = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(second))
        return f"{self._prefix},{int(record.msecs):03d}"


def configure(log_format: str = "text", level: str = "INFO") -> None:
    """Send sidequest's (and the application's) logs to stderr in the chosen format."""
    numeric = logging.getLevelName(level.upper())
    if not isinstance(numeric, int):
        raise ConfigError(f"unknown log level {level!r}")
    handler = logging.StreamHandler(sys.stderr)
    if log_format == "json":
        handler.setFormatter(JsonFormatter())
    elif log_format == "text":
        handler.setFormatter(TextFormatter())
    else:
        raise ConfigError(f"log format must be text or json (got {log_format!r})")
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(numeric)
    # What Python's logging documentation suggests for speed: no caller lookup (a
    # stack walk per record) and no multiprocessing name. Our formats use neither.
    logging._srcfile = None
    logging.logMultiprocessing = False
