"""The heartbeat: a thread of its own, independent of job code.

Tasks, every `heartbeat_interval` seconds:
1. write Sidekiq's process hash (info, busy, beat, quiet, rss, rtt_us, concurrency),
   the work hashes of the jobs running now, and renew our lease
2. act on a signal pushed by a UI to `<identity>-signals`: TSTP quiets, TERM stops,
   TTIN logs every thread's stack
3. recover the jobs of dead processes (`recovery.py`) and prune `processes`
4. let middleware flush (per-class metrics)
"""

from __future__ import annotations

import json
import logging
import os
import random
import socket
import sys
import threading
import time
import traceback
from collections.abc import Callable

import redis

from sidequest import keys
from sidequest.config import Settings
from sidequest.middleware import MiddlewareChain
from sidequest.runtime.backoff import Backoff
from sidequest.runtime.manager import Manager
from sidequest.runtime.recovery import Recovery
from sidequest.runtime.store.heartbeat import Beat, HeartbeatStore

logger = logging.getLogger("sidequest")

VERSION = "0.1.0"


def new_identity() -> str:
    """`hostname:pid:nonce`, as Sidekiq's (DYNO wins over the hostname, as there)."""
    host = os.environ.get("DYNO") or socket.gethostname()
    return f"{host}:{os.getpid()}:{random.getrandbits(48):012x}"


def rss_kb() -> int:
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def tid(thread_id: int) -> str:
    """A short thread id in base 36, like Sidekiq's."""
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    value, out = thread_id, ""
    while value:
        value, rest = divmod(value, 36)
        out = digits[rest] + out
    return out or "0"


class Heartbeat:
    def __init__(
        self,
        store: HeartbeatStore,
        settings: Settings,
        manager: Manager,
        middleware: MiddlewareChain,
        recovery: Recovery,
        on_quiet: Callable[[], None],
        on_stop: Callable[[], None],
        is_quiet: Callable[[], bool],
    ):
        self.store = store
        self.settings = settings
        self.manager = manager
        self.middleware = middleware
        self.on_quiet = on_quiet
        self.on_stop = on_stop
        self.is_quiet = is_quiet
        self.recovery = recovery
        self.started_at = time.time()
        self.info = self._info()
        self._now = threading.Event()
        self._stopped = threading.Event()
        self._healthy_since: float | None = None
        self._lease_good_until = 0.0
        self._backoff = Backoff("heartbeat")
        self._thread = threading.Thread(target=self._run, name="sidequest-heartbeat", daemon=True)

    def _info(self) -> str:
        settings = self.settings
        names = [queue.name for queue in settings.queues]
        weights = {queue.name: queue.weight for queue in settings.queues}
        mode = "strict" if not settings.weighted else "weighted"
        return json.dumps(
            {
                "hostname": self.store.identity.rsplit(":", 2)[0],
                "started_at": self.started_at,
                "pid": os.getpid(),
                "tag": settings.tag,
                "concurrency": settings.concurrency,
                "queues": names,
                "weights": [weights],
                "capsules": {
                    "default": {
                        "concurrency": settings.concurrency,
                        "mode": mode,
                        "weights": weights,
                    }
                },
                "labels": list(settings.labels),
                "identity": self.store.identity,
                "version": VERSION,
                "embedded": False,
                "framework": "sidequest",
            },
            separators=(",", ":"),
        )

    def start(self) -> None:
        self.beat()
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """End the thread, waiting for a beat in progress.

        The caller removes our process entries next: a beat still on its way would put
        them back (the process listed for another minute, an owner entry and a lease
        left behind), so it must land first.
        """
        self._stopped.set()
        self._now.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout)

    def clear(self) -> None:
        """Remove our process entries and lease at a clean exit, after stop()."""
        self.store.clear_process()

    def lease_good(self) -> bool:
        """True while our lease surely holds: renewed recently, by this process's clock.

        After a freeze (SIGSTOP, a long pause) this turns false until the next beat, so
        the queue waiters do not land jobs for a process presumed dead.
        """
        return time.monotonic() < self._lease_good_until

    def beat_soon(self) -> None:
        self._now.set()

    def _run(self) -> None:
        while not self._stopped.is_set():
            self._now.wait(self.settings.heartbeat_interval)
            self._now.clear()
            if self._stopped.is_set():
                return
            if self.beat():
                self._maybe_recover()
            self.middleware.heartbeat()

    def beat(self) -> bool:
        """Write one heartbeat; False when Redis could not be reached."""
        sent = time.monotonic()
        try:
            work, legacy = self._work()
            signal = self.store.beat(
                Beat(
                    info=self.info,
                    busy=self.manager.busy,
                    quiet=self.is_quiet(),
                    rss_kb=rss_kb(),
                    rtt_us=self.store.ping_us(),
                    concurrency=self.settings.concurrency,
                    work=work,
                    legacy_work=legacy,
                )
            )
        except redis.RedisError as error:
            self._healthy_since = None
            self._backoff.failed(error)  # the next beat comes at the interval regardless
            return False
        # Half the lease's TTL: a margin for a slow reply and clocks that drift apart.
        self._lease_good_until = sent + self.settings.heartbeat_timeout / 2
        self._backoff.succeeded()
        if self._healthy_since is None:
            self._healthy_since = time.monotonic()
        if signal:
            self._handle(signal)
        return True

    def _maybe_recover(self) -> None:
        grace = self.settings.heartbeat_interval * 2 + 1.0
        if self._healthy_since is None or time.monotonic() - self._healthy_since < grace:
            return
        try:
            self.recovery.run()
        except redis.RedisError as error:
            logger.warning("recovery of dead processes failed: %s", error)

    def _work(self) -> tuple[dict[str, str], dict[str, str]]:
        work: dict[str, str] = {}
        legacy: dict[str, str] = {}
        for running in self.manager.running():
            raw = running.job.raw.decode("utf-8", errors="replace")
            run_at = int(running.started_at)
            key = tid(running.thread_id)
            entry: dict[str, object] = {
                "queue": running.job.queue,
                "payload": raw,
                "run_at": run_at,
            }
            if running.is_async:
                entry["async"] = True  # on the event loop; the Busy page says so
            work[key] = json.dumps(entry)
            try:
                nested = json.loads(raw)
            except ValueError:
                nested = raw
            legacy[key] = json.dumps(
                {"queue": running.job.queue, "payload": nested, "run_at": run_at}
            )
        return work, legacy

    def _handle(self, signal: str) -> None:
        logger.info("received %s from %s", signal, keys.signals(self.store.identity))
        if signal == "TSTP":
            self.on_quiet()
        elif signal == "TERM":
            self.on_stop()
        elif signal == "TTIN":
            dump_threads()
        else:
            logger.warning("ignoring unknown signal %r", signal)


def dump_threads() -> None:
    frames = sys._current_frames()
    for thread in threading.enumerate():
        frame = frames.get(thread.ident or 0)
        stack = "".join(traceback.format_stack(frame)) if frame else "(no frame)"
        logger.warning("thread %s (%s):\n%s", thread.name, tid(thread.ident or 0), stack)
