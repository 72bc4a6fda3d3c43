"""Worker processes from their heartbeats, the jobs they run, and remote quiet/stop."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import redis

from sidequest import keys
from sidequest.api.records import JobRecord, text

#: the process hash field where a sidequest worker lists the job class names it
#: registered, as a JSON array (`sidequest.registered_classes`). Sidekiq reads the
#: fields it knows by name (HMGET), so an extra one changes nothing for it.
JOB_CLASSES_FIELD = "job_classes"


@dataclass
class Process:
    identity: str
    info: dict[str, Any]
    busy: int
    beat: float
    quiet: bool
    rss_kb: int
    rtt_us: int
    concurrency: int
    #: the job class names the process registered; None when it does not say (Ruby's
    #: Sidekiq, older sidequest workers, or one whose entry Redis lost and rebuilt)
    job_classes: frozenset[str] | None = None

    @property
    def hostname(self) -> str:
        return str(self.info.get("hostname", self.identity.split(":")[0]))

    @property
    def pid(self) -> int | None:
        pid = self.info.get("pid")
        return pid if isinstance(pid, int) else None

    @property
    def tag(self) -> str:
        return str(self.info.get("tag") or "")

    @property
    def labels(self) -> list[str]:
        labels = self.info.get("labels")
        return [str(label) for label in labels] if isinstance(labels, list) else []

    @property
    def queues(self) -> list[str]:
        queues = self.info.get("queues")
        return [str(queue) for queue in queues] if isinstance(queues, list) else []

    @property
    def weights(self) -> dict[str, int]:
        weights = self.info.get("weights")
        if isinstance(weights, list) and weights and isinstance(weights[0], dict):
            return {str(k): int(v) for k, v in weights[0].items() if isinstance(v, int)}
        return {}

    @property
    def started_at(self) -> float | None:
        started = self.info.get("started_at")
        return float(started) if isinstance(started, int | float) else None

    @property
    def version(self) -> str:
        return str(self.info.get("version", ""))


@dataclass
class Work:
    """A job running now, as its process last reported it."""

    identity: str
    thread: str
    queue: str
    job: JobRecord
    run_at: float
    extra: dict[str, Any] = field(default_factory=dict)
    #: on the process's event loop (an `async def perform`), not on a thread
    on_loop: bool = False


class ProcessSet:
    def __init__(self, client: redis.Redis):
        self.redis = client

    def identities(self) -> list[str]:
        return sorted(text(member) for member in self.redis.smembers(keys.PROCESSES))

    def all(self) -> list[Process]:
        """Live processes (whose heartbeat hash has not expired), by identity."""
        identities = self.identities()
        pipe = self.redis.pipeline(transaction=False)
        for identity in identities:
            pipe.hgetall(keys.process(identity))
        processes = []
        for identity, fields in zip(identities, pipe.execute(), strict=True):
            if fields:
                processes.append(_process(identity, {text(k): text(v) for k, v in fields.items()}))
        return processes

    def get(self, identity: str) -> Process | None:
        fields = self.redis.hgetall(keys.process(identity))
        if not fields:
            return None
        return _process(identity, {text(k): text(v) for k, v in fields.items()})

    def signal(self, identity: str, name: str) -> None:
        """Send TSTP (quiet), TERM (stop) or TTIN (dump threads), as Sidekiq's UI does."""
        if name not in ("TSTP", "TERM", "TTIN"):
            raise ValueError(f"unknown signal {name!r}")
        pipe = self.redis.pipeline(transaction=True)
        pipe.lpush(keys.signals(identity), name)
        pipe.expire(keys.signals(identity), keys.PROCESS_TTL_SECONDS)
        pipe.execute()

    def quiet(self, identity: str) -> None:
        self.signal(identity, "TSTP")

    def stop(self, identity: str) -> None:
        self.signal(identity, "TERM")

    def work(self) -> list[Work]:
        """Every job running now in any live process, oldest first."""
        identities = self.identities()
        pipe = self.redis.pipeline(transaction=False)
        for identity in identities:
            pipe.hgetall(keys.work(identity))
        entries: list[Work] = []
        for identity, work in zip(identities, pipe.execute(), strict=True):
            for thread, value in work.items():
                entry = _work(identity, text(thread), text(value))
                if entry is not None:
                    entries.append(entry)
        return sorted(entries, key=lambda entry: entry.run_at)


def _process(identity: str, fields: dict[str, str]) -> Process:
    try:
        info = json.loads(fields.get("info", "{}"))
    except (ValueError, RecursionError):  # not JSON, or nested too deeply to read
        info = {}
    if not isinstance(info, dict):
        info = {}
    concurrency = _int(fields.get("concurrency")) or _int(info.get("concurrency"))
    return Process(
        identity=identity,
        info=info,
        busy=_int(fields.get("busy")),
        beat=_float(fields.get("beat")),
        quiet=fields.get("quiet") == "true",
        rss_kb=_int(fields.get("rss")),
        rtt_us=_int(fields.get("rtt_us")),
        concurrency=concurrency,
        job_classes=_names(fields.get(JOB_CLASSES_FIELD)),
    )


def _names(value: str | None) -> frozenset[str] | None:
    if value is None:
        return None
    try:
        names = json.loads(value)
    except (ValueError, RecursionError):
        return None
    if not isinstance(names, list):
        return None
    return frozenset(name for name in names if isinstance(name, str))


def _work(identity: str, thread: str, value: str) -> Work | None:
    try:
        data = json.loads(value)
    except (ValueError, RecursionError):
        return None
    if not isinstance(data, dict):
        return None
    job = data.get("payload")
    raw = job if isinstance(job, str) else json.dumps(job)
    queue = str(data.get("queue", ""))
    return Work(
        identity,
        thread,
        queue,
        JobRecord(raw, queue),
        _float(data.get("run_at")),
        on_loop=data.get("async") is True,
    )


def _int(value: object) -> int:
    try:
        return int(str(value))
    except ValueError:
        return 0


def _float(value: object) -> float:
    try:
        return float(str(value))
    except ValueError:
        return 0.0
