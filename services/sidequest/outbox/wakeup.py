"""How a relay learns that rows were committed, without waiting for its next poll.

- In the same process: the outbox writer calls `nudge()` after the enqueuing session
  commits; every relay of the process waits on `Wakeup`, which `nudge` sets.
- Across processes on PostgreSQL: the writer's transaction runs `pg_notify(CHANNEL)`,
  which PostgreSQL delivers at commit (and never for a rollback); `PostgresListener`
  holds one LISTENing connection per relay and sets its `Wakeup`.
- Otherwise (SQLite across processes) the relay polls every `poll_interval`.
"""

from __future__ import annotations

import logging
import threading
import weakref
from typing import Any

from sqlalchemy import Engine

logger = logging.getLogger("sidequest.outbox")

#: the PostgreSQL notification channel
CHANNEL = "sidequest_outbox"


class Wakeup:
    """An event a relay sleeps on; set by nudges and notifications."""

    def __init__(self) -> None:
        self._event = threading.Event()
        _wakeups.add(self)

    def set(self) -> None:
        self._event.set()

    def wait(self, timeout: float) -> bool:
        """Sleep until set or `timeout`; True when set. Clears the event."""
        woken = self._event.wait(timeout)
        self._event.clear()
        return woken


_wakeups: weakref.WeakSet[Wakeup] = weakref.WeakSet()


def nudge() -> None:
    """Wake every relay of this process (called after an outbox write commits)."""
    for wakeup in list(_wakeups):
        wakeup.set()


class PostgresListener:
    """A thread LISTENing on `CHANNEL` through psycopg 3, setting `wakeup` on each notify.

    Reconnects after errors (a database restart) with a pause; the relay's own poll
    covers the gap.
    """

    def __init__(self, engine: Engine, wakeup: Wakeup, *, reconnect_delay: float = 1.0):
        self.engine = engine
        self.wakeup = wakeup
        self.reconnect_delay = reconnect_delay
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._run, name="sidequest-outbox-listener", daemon=True
        )

    @staticmethod
    def supported(engine: Engine) -> bool:
        return engine.dialect.name == "postgresql" and engine.dialect.driver == "psycopg"

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def join(self, timeout: float | None = None) -> None:
        self._thread.join(timeout)

    def _run(self) -> None:
        dialect = self.engine.dialect
        # A connection of its own, outside the application's pool (it is held for good),
        # opened through the dialect so that this module needs no import of psycopg.
        cargs, cparams = dialect.create_connect_args(self.engine.url)
        while not self._stop.is_set():
            try:
                conn = dialect.connect(*cargs, **cparams)
                try:
                    conn.autocommit = True
                    conn.execute(f"LISTEN {CHANNEL}")
                    # Rows committed before LISTEN took effect are found by this look.
                    self.wakeup.set()
                    while not self._stop.is_set():
                        for _ in self._notifies(conn):
                            self.wakeup.set()
                finally:
                    conn.close()
            except Exception as error:  # any failure: reconnect
                if self._stop.is_set():
                    return
                logger.warning("outbox LISTEN connection failed (%s); reconnecting", error)
                self._stop.wait(self.reconnect_delay)

    @staticmethod
    def _notifies(conn: Any) -> Any:
        # A timeout, so that stop() is noticed within half a second.
        return conn.notifies(timeout=0.5)
