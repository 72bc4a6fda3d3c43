"""The control listener: one thread per worker process that hears pause, resume and
cancel announcements on `sidequest:control` and keeps the process's views of them
(pausing.PausedQueues, cancelling.Cancellations).

Pub/sub delivers at most once, and not while the connection is down, so the listener
also re-reads the paused queues and the cancel marks right after each (re)subscribe and
every REREAD_SECONDS: a missed announcement is late by seconds, never lost. The
launcher calls `reread()` once before any fetch, so a process knows every mark before
it starts its first job.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable

import redis

from sidequest import keys
from sidequest.runtime.backoff import Backoff
from sidequest.runtime.cancelling import Cancellations
from sidequest.runtime.pausing import PausedQueues
from sidequest.runtime.store.control import ControlStore

logger = logging.getLogger("sidequest")

REREAD_SECONDS = 2.0
_SUBSCRIBE_REPLY_SECONDS = 5.0


class ControlListener:
    def __init__(
        self,
        store: ControlStore,
        connect: Callable[[], redis.Redis],
        pauses: PausedQueues,
        cancellations: Cancellations,
        reread_every: float = REREAD_SECONDS,
    ):
        self.store = store
        self.connect = connect
        self.pauses = pauses
        self.cancellations = cancellations
        self.reread_every = reread_every
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name="sidequest-control", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopped.set()
        self.pauses.close()

    def reread(self) -> None:
        paused, cancelled = self.store.read()
        self.pauses.replace(paused)
        self.cancellations.replace(cancelled)

    def _reread_quietly(self) -> None:
        # Redis itself may be unreachable: the backoff has said so already.
        with contextlib.suppress(redis.RedisError):
            self.reread()

    def handle(self, data: bytes | str) -> None:
        """One announcement: `pause <queue>`, `resume <queue>` or `cancel <jid>`."""
        message = data.decode(errors="replace") if isinstance(data, bytes) else str(data)
        verb, _, subject = message.partition(" ")
        if not subject:
            return
        if verb == "pause":
            self.pauses.note_paused(subject)
        elif verb == "resume":
            self.pauses.note_resumed(subject)
        elif verb == "cancel":
            self.cancellations.cancel(subject)

    def _run(self) -> None:
        backoff = Backoff("control listener")
        while not self._stopped.is_set():
            client = self.connect()
            pubsub = client.pubsub(ignore_subscribe_messages=True)  # type: ignore[no-untyped-call]
            try:
                pubsub.subscribe(keys.CONTROL_CHANNEL)
                # The reply shows whether the subscription was refused (an ACL without
                # the channel): that must count as a failure, not reset the backoff.
                pubsub.get_message(timeout=_SUBSCRIBE_REPLY_SECONDS)
                backoff.succeeded()
                self._listen(pubsub)
            except redis.RedisError as error:
                delay = backoff.failed(error)
                # Without announcements (a refused SUBSCRIBE, say) the marks and pauses
                # still reach us by re-reading them, at the backoff's pace.
                self._reread_quietly()
                self._stopped.wait(delay)
            finally:
                try:
                    pubsub.close()
                finally:
                    client.close()

    def _listen(self, pubsub: redis.client.PubSub) -> None:
        # Subscribed first, read second: an announcement made in between is heard.
        self.reread()
        next_reread = time.monotonic() + self.reread_every
        while not self._stopped.is_set():
            remaining = next_reread - time.monotonic()
            if remaining <= 0:
                self.reread()
                next_reread = time.monotonic() + self.reread_every
                continue
            message = pubsub.get_message(timeout=min(remaining, 1.0))
            if message is not None and message.get("type") == "message":
                self.handle(message["data"])
