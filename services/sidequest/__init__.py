"""sidequest: background jobs for Python on Sidekiq's Redis layout.

import sidequest
from sidequest import Job, retry_on, discard_on

sidequest.configure(redis_url="redis://localhost:6379/0")   # or set REDIS_URL

@retry_on(ConnectionError, wait="polynomially_longer", attempts=5)
class ProcessReportJob(Job):
    def perform(self, report_id: int) -> None: ...

ProcessReportJob.perform_later(42)
sidequest.periodic("nightly_report", ProcessReportJob, cron="30 2 * * *", args=[7])
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sidequest.adapter import (
    EnqueueAdapter,
    current_adapter,
    set_adapter,
    set_fallback,
    set_outbox_factory,
)
from sidequest.errors import (
    ArgumentMismatchError,
    ConfigError,
    DeserializationError,
    EnqueueError,
    JobCancelled,
    JobTimeoutError,
    MalformedPayloadError,
    PoisonPillError,
    SerializationError,
    SidequestError,
    UnknownJobError,
)
from sidequest.job import (
    ConfiguredJob,
    Job,
    after_enqueue,
    after_perform,
    around_enqueue,
    around_perform,
    before_enqueue,
    before_perform,
    discard_on,
    membership,
    retry_on,
)
from sidequest.limits import limits_concurrency, limits_rate
from sidequest.periodic_jobs import define as periodic

if TYPE_CHECKING:
    from sidequest.batches import Batch, chain

__version__ = "0.1.0"


def configure(
    redis_url: str | None = None,
    *,
    adapter: EnqueueAdapter | None = None,
    enqueue_wait_replicas: int | None = None,
    enqueue_wait_timeout: float | None = None,
) -> EnqueueAdapter:
    """Send `perform_later` and friends to Redis at `redis_url` (or to `adapter`).

    `enqueue_wait_replicas` (with `enqueue_wait_timeout`, seconds) makes every enqueue
    wait until that many replicas hold the job (`sidequest.replication`); unset, the
    environment's SIDEQUEST_ENQUEUE_WAIT_REPLICAS decides.

    Call it once at start-up. Without it, jobs go to REDIS_URL's Redis. A worker
    configures itself from its settings, and uses the `redis_url` given here by its
    required modules when its flag, environment and config file name none
    (`sidequest.redis_source`).

    Raises:
        ConfigError: `redis_url` is malformed; the message names this call's module.
    """
    if adapter is None:
        if redis_url is None:
            raise ConfigError("configure() needs redis_url or adapter")
        # Imported here so that `import sidequest` (and the job API) needs no Redis client.
        from sidequest import redis_source  # noqa: PLC0415
        from sidequest.client import RedisAdapter  # noqa: PLC0415
        from sidequest.connection import connect  # noqa: PLC0415
        from sidequest.replication import from_values  # noqa: PLC0415

        module = redis_source.caller_module()
        source = redis_source.RedisSource("configure", module)
        wait = None
        if enqueue_wait_replicas is not None or enqueue_wait_timeout is not None:
            wait = from_values(enqueue_wait_replicas, enqueue_wait_timeout)
        adapter = RedisAdapter(connect(redis_url, source=source.setting), wait)
        redis_source.remember_configured(redis_url, module)
    set_adapter(adapter)
    return adapter


def __getattr__(name: str) -> object:
    # Batches need the Redis client; `import sidequest` alone does not import it.
    if name in ("Batch", "chain"):
        from sidequest import batches  # noqa: PLC0415

        return getattr(batches, name)
    raise AttributeError(f"module 'sidequest' has no attribute {name!r}")


def _adapter_from_environment() -> EnqueueAdapter | None:
    from sidequest.client import from_environment  # noqa: PLC0415

    return from_environment()


def _open_batch(bid: str) -> object:
    from sidequest.batches import Batch  # noqa: PLC0415

    return Batch.existing(bid)


# A process that never calls configure() enqueues to REDIS_URL, as Sidekiq's clients do.
set_fallback(_adapter_from_environment)
# `self.batch` in a job: the job API itself never imports the Redis side of batches.
membership.set_opener(_open_batch)


def _outbox_adapter(session: object) -> EnqueueAdapter:
    # Imported on first use: SQLAlchemy is needed only by applications using the outbox.
    from sidequest.outbox.writer import OutboxAdapter  # noqa: PLC0415

    return OutboxAdapter.for_session(session)


set_outbox_factory(_outbox_adapter)


__all__ = [
    "ArgumentMismatchError",
    "Batch",
    "ConfigError",
    "ConfiguredJob",
    "DeserializationError",
    "EnqueueAdapter",
    "EnqueueError",
    "Job",
    "JobCancelled",
    "JobTimeoutError",
    "MalformedPayloadError",
    "PoisonPillError",
    "SerializationError",
    "SidequestError",
    "UnknownJobError",
    "__version__",
    "after_enqueue",
    "after_perform",
    "around_enqueue",
    "around_perform",
    "before_enqueue",
    "before_perform",
    "chain",
    "configure",
    "current_adapter",
    "discard_on",
    "limits_concurrency",
    "limits_rate",
    "periodic",
    "retry_on",
]
