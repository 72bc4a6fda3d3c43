"""Logging set-up for the worker and CLI: text lines or one JSON object per line.

A worker logs two lines per job at INFO, as Sidekiq does. Through the standard
machinery each line costs a LogRecord, a formatter pass and a write(2) whose release
of the GIL hands it to another thread: together more than an I/O-bound job itself. So
the handler installed here (LineBuffer) collects lines in memory and writes them in
batches every FLUSH_SECONDS from a thread of its own, and the job log (runtime/joblog.py)
hands it finished lines directly while the logging configuration is the one set up
here. Warnings and errors are written at once, after the lines before them; at exit,
logging.shutdown() writes what is left. A process killed with SIGKILL loses at most
the last FLUSH_SECONDS of INFO lines.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import threading
import time
from collections import deque
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import TextIO

from sidequest.errors import ConfigError

# Attributes that job log lines attach through `extra=`.
_FIELDS = (
    "event",
    "jid",
    "job_class",
    "queue",
    "outcome",
    "duration",
    "error_class",
    "next_attempt_in",
    "next_attempt_at",
)


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
        return self.stamp(record.created)

    def stamp(self, created: float) -> str:
        """`2026-12-02 03:31:02,123`, as logging's default asctime."""
        second = int(created)
        if second != self._second:
            self._second = second
            self._prefix = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(second))
        return f"{self._prefix},{int((created - second) * 1000):03d}"


#: longest an INFO line waits in memory before it is written
FLUSH_SECONDS = 0.05
#: a buffer of this many lines is written at once rather than at the next flush
FLUSH_LINES = 2_000


class LineBuffer(logging.StreamHandler):  # type: ignore[type-arg]
    """A stream handler that writes INFO and DEBUG lines in batches (see the module doc).

    `line()` takes a line built by the caller, bypassing LogRecord and formatter; it
    must read exactly as format() would have written it (`format_line` does that).
    """

    def __init__(self, stream: TextIO, formatter: TextFormatter | JsonFormatter):
        super().__init__(stream)
        self.setFormatter(formatter)
        self._text = formatter if isinstance(formatter, TextFormatter) else None
        # Appends and pops of a deque are atomic, so threads add lines without a lock.
        self._lines: deque[str] = deque()
        self._full = threading.Event()
        self._writing = threading.Lock()
        self._flusher: threading.Thread | None = None
        self._starting = threading.Lock()
        self._pid = os.getpid()

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = self.format(record) + self.terminator
        except Exception:
            self.handleError(record)
            return
        if record.levelno >= logging.WARNING:
            self._write_now(text)
        else:
            self._append(text)

    def line(self, level: str, logger: str, message: str, fields: Mapping[str, object]) -> None:
        """Buffer one INFO/DEBUG line built from its parts, as emit() would format it
        (`fields` are what the JSON format adds to its standard keys; text ignores them)."""
        self._append(self.format_line(level, logger, message, fields) + self.terminator)

    def format_line(
        self, level: str, logger: str, message: str, fields: Mapping[str, object]
    ) -> str:
        now = time.time()
        if self._text is not None:
            stamp = self._text.stamp(now)
            thread = threading.current_thread().name
            return f"{stamp} pid={self._pid} tid={thread} {level} {logger}: {message}"
        entry: dict[str, object] = {
            "ts": datetime.fromtimestamp(now, UTC).isoformat(timespec="milliseconds"),
            "level": level,
            "logger": logger,
            "msg": message,
            "pid": self._pid,
            "tid": threading.get_ident(),
        }
        entry.update(fields)
        return json.dumps(entry, default=str)

    def flush(self) -> None:
        with self._writing:
            self._write(self._take())

    def _append(self, text: str) -> None:
        lines = self._lines
        lines.append(text)
        if self._flusher is None:
            self._start_flusher()
        if len(lines) >= FLUSH_LINES:
            self._full.set()

    def _write_now(self, text: str) -> None:
        with self._writing:  # after the lines buffered before it, before any later ones
            self._write(self._take() + text)

    def _take(self) -> str:
        """Under self._writing: empty the buffer, returning its text."""
        lines = self._lines
        taken = [lines.popleft() for _ in range(len(lines))]
        return "".join(taken)

    def _write(self, text: str) -> None:
        """Under self._writing, so that batches reach the stream in order."""
        if not text:
            return
        try:
            self.stream.write(text)
            self.stream.flush()
        except (OSError, ValueError):
            pass  # stderr closed or gone: nothing better to do with a log line

    def _start_flusher(self) -> None:
        with self._starting:
            if self._flusher is not None:
                return
            thread = threading.Thread(target=self._flush_forever, name="sidequest-log", daemon=True)
            thread.start()
            self._flusher = thread

    def _flush_forever(self) -> None:
        # A timed wait rather than a wake-up per batch: no lock on the job path, and no
        # line can be missed between a look at the buffer and the wait.
        while True:
            self._full.wait(FLUSH_SECONDS)
            self._full.clear()
            self.flush()


def checked(log_format: str, level: str) -> tuple[TextFormatter | JsonFormatter, int]:
    """The formatter and numeric level a format and level name stand for.

    Raises:
        ConfigError: an unknown format or level, named.
    """
    numeric = logging.getLevelName(level.upper())
    if not isinstance(numeric, int):
        raise ConfigError(f"unknown log level {level!r}")
    if log_format == "json":
        return JsonFormatter(), numeric
    if log_format == "text":
        return TextFormatter(), numeric
    raise ConfigError(f"log format must be text or json (got {log_format!r})")


def configure(log_format: str = "text", level: str = "INFO") -> None:
    """Send sidequest's (and the application's) logs to stderr in the chosen format."""
    formatter, numeric = checked(log_format, level)
    handler = LineBuffer(sys.stderr, formatter)  # logging.shutdown() flushes it at exit
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(numeric)
    # What Python's logging documentation suggests for speed: no caller lookup (a
    # stack walk per record) and no multiprocessing name. Our formats use neither.
    logging._srcfile = None
    logging.logMultiprocessing = False


def line_sink(logger: logging.Logger) -> LineBuffer | None:
    """The LineBuffer that `logger`'s records reach unchanged, if that is all they reach.

    That is, `logger` and its ancestors have no filters and no handler but one
    LineBuffer (at the root, as configure() sets it up), without filters or a level
    above INFO. Anything else, a handler or filter an application added, and callers
    must go through `logger` as usual.
    """
    found: LineBuffer | None = None
    current: logging.Logger | None = logger
    while current is not None:
        if current.filters or current.disabled:
            return None
        for handler in current.handlers:
            if found is not None or not isinstance(handler, LineBuffer) or handler.filters:
                return None
            if handler.level > logging.INFO:
                return None
            found = handler
        if not current.propagate:
            break
        current = current.parent
    return found


def flush() -> None:
    """Write what the root logger's handlers hold (before writing to stderr directly)."""
    for handler in logging.getLogger().handlers:
        handler.flush()
