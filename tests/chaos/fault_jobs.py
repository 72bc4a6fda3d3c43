"""Jobs for the focused fault tests: they record themselves in the test's Redis
(TEST_REDIS_URL, or WITNESS_URL when the job Redis itself is under test) and some of
them take their own process down."""

from __future__ import annotations

import ctypes
import os
import time

import redis

from sidequest import Job

_client: redis.Redis | None = None


def recorder() -> redis.Redis:
    global _client
    if _client is None:
        url = os.environ.get("WITNESS_URL") or os.environ["TEST_REDIS_URL"]
        _client = redis.Redis.from_url(url, decode_responses=True)
    return _client


class RecordJob(Job):
    """Records its jid once per execution."""

    def perform(self, n: int) -> None:
        recorder().rpush("test:runs", self.jid)


class HoldJob(Job):
    """Records its start, waits while `test:hold` exists, records its end."""

    def perform(self, n: int) -> None:
        client = recorder()
        client.rpush("test:started", self.jid)
        deadline = time.monotonic() + 60
        while client.exists("test:hold") and time.monotonic() < deadline:
            time.sleep(0.01)
        client.rpush("test:done", self.jid)


class ExitsItsProcessJob(Job):
    """Ends the worker process with os._exit, every time (a poison pill)."""

    def perform(self) -> None:
        recorder().rpush("test:crashes", f"exit {os.getpid()}")
        os._exit(3)


class SegfaultsJob(Job):
    """Crashes the worker process with SIGSEGV by reading address 0, every time."""

    def perform(self) -> None:
        recorder().rpush("test:crashes", f"segv {os.getpid()}")
        ctypes.string_at(0)


class FuzzSinkJob(Job):
    """Takes any arguments and records the marker of the payload that reached it."""

    def perform(self, *args: object) -> None:
        recorder().rpush("test:sink", str(self.payload.get("fuzz_id", "")))


class UndecodableFileJob(Job):
    """Fails with an error naming a file whose name is not UTF-8, as the OS reports it.

    Python decodes such names with surrogateescape, so the message holds lone surrogates.
    """

    retry = 1

    def perform(self) -> None:
        recorder().rpush("test:started", self.jid)
        name = b"report-\xff.csv".decode("utf-8", "surrogateescape")
        raise ValueError(f"cannot parse {name}")


class UnprintableError(Exception):
    def __str__(self) -> str:
        raise RuntimeError("this exception cannot describe itself")


class UnprintableErrorJob(Job):
    """Fails with an exception whose message cannot be read."""

    retry = 1

    def perform(self) -> None:
        raise UnprintableError()


class SlowRecordJob(Job):
    """Records its jid after `seconds`: long enough to be running when a neighbour crashes."""

    def perform(self, n: int, seconds: float) -> None:
        time.sleep(seconds)
        recorder().rpush("test:runs", self.jid)


class UniqueRecordJob(Job):
    """Records its jid; no second one with the same arguments while it is pending."""

    unique_for = 60.0

    def perform(self, n: int) -> None:
        recorder().rpush("test:runs", self.jid)


class UniqueHoldJob(HoldJob):
    """HoldJob that no second copy with the same arguments may join while it is pending."""

    unique_for = 60.0
