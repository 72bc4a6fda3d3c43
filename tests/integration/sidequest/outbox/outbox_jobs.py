"""Job classes the outbox tests enqueue (a module, so a relay subprocess can import it)."""

from __future__ import annotations

from datetime import timedelta

from sidequest import Job


class OutboxNoteJob(Job):
    queue = "outbox"

    def perform(self, note: str) -> None:
        pass


class OutboxUniqueJob(Job):
    queue = "outbox"
    unique_for = timedelta(minutes=5)

    def perform(self, key: str) -> None:
        pass
