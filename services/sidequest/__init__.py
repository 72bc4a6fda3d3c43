"""sidequest: background jobs for Python on Sidekiq's Redis layout.

import sidequest
from sidequest import Job, retry_on, discard_on

sidequest.configure(redis_url="redis://localhost:6379/0")

@retry_on(ConnectionError, wait="polynomially_longer", attempts=5)
class ProcessReportJob(Job):
    def perform(self, report_id: int) -> None: ...

ProcessReportJob.perform_later(42)
"""

from __future__ import annotations

from sidequest.adapter import EnqueueAdapter, current_adapter, set_adapter
from sidequest.errors import (
    ArgumentMismatchError,
    ConfigError,
    DeserializationError,
    EnqueueError,
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
    retry_on,
)

__version__ = "0.1.0"


def configure(
    redis_url: str | None = None, *, adapter: EnqueueAdapter | None = None
) -> EnqueueAdapter:
    """Send `perform_later` and friends to Redis at `redis_url` (or to `adapter`).

    Call it once at start-up; the worker does so itself from REDIS_URL.
    """
    if adapter is None:
        if redis_url is None:
            raise ConfigError("configure() needs redis_url or adapter")
        # Imported here so that `import sidequest` (and the job API) needs no Redis client.
        from sidequest.client import RedisAdapter  # noqa: PLC0415
        from sidequest.connection import connect  # noqa: PLC0415

        adapter = RedisAdapter(connect(redis_url))
    set_adapter(adapter)
    return adapter


__all__ = [
    "ArgumentMismatchError",
    "ConfigError",
    "ConfiguredJob",
    "DeserializationError",
    "EnqueueAdapter",
    "EnqueueError",
    "Job",
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
    "configure",
    "current_adapter",
    "discard_on",
    "retry_on",
]
