"""Waiting for replicas before an enqueue returns: closing the failover loss window.

Redis replicates asynchronously. A job the master acknowledged can be missing from the
replica that Sentinel promotes when the master dies a moment later: `perform_later`
returned, the job is gone. With `enqueue_wait_replicas` = N (N >= 1) every enqueue ends
with `WAIT N <timeout>` on the connection that wrote the job, so it returns only once N
replicas hold it. Sentinel promotes the replica with the largest replication offset
(among those of equal `replica-priority`), which then holds every job it confirmed.

When fewer than N replicas confirm within `enqueue_wait_timeout` seconds, the enqueue
raises ReplicationTimeoutError (an EnqueueError): the job IS on the master, and is
lost only if the master fails before a replica catches up. Retrying it can enqueue it
twice, as after any enqueue whose outcome is unknown; `unique_for` avoids that.

Settings (worker config file, environment, worker flag; web and client processes take
the environment, or sidequest.configure()):

    enqueue_wait_replicas: 1      SIDEQUEST_ENQUEUE_WAIT_REPLICAS=1   --enqueue-wait-replicas 1
    enqueue_wait_timeout: 1.0     SIDEQUEST_ENQUEUE_WAIT_TIMEOUT=1.0  --enqueue-wait-timeout 1.0
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass

from sidequest.errors import ConfigError, EnqueueError

REPLICAS_VARIABLE = "SIDEQUEST_ENQUEUE_WAIT_REPLICAS"
TIMEOUT_VARIABLE = "SIDEQUEST_ENQUEUE_WAIT_TIMEOUT"
DEFAULT_TIMEOUT = 1.0


class ReplicationTimeoutError(EnqueueError):
    """The master took the job, but fewer replicas than asked confirmed it in time."""


@dataclass(frozen=True)
class EnqueueWait:
    """How many replicas must hold an enqueued job before the enqueue returns."""

    replicas: int = 0
    timeout: float = DEFAULT_TIMEOUT

    def __post_init__(self) -> None:
        if isinstance(self.replicas, bool) or not isinstance(self.replicas, int):
            raise ConfigError(f"enqueue_wait_replicas must be a whole number ({self.replicas!r})")
        if self.replicas < 0:
            raise ConfigError(f"enqueue_wait_replicas must not be negative ({self.replicas})")
        if not (math.isfinite(self.timeout) and self.timeout > 0):
            raise ConfigError(f"enqueue_wait_timeout must be above 0 seconds ({self.timeout!r})")

    @property
    def enabled(self) -> bool:
        return self.replicas > 0

    @property
    def timeout_ms(self) -> int:
        # WAIT 0 would block forever: never round down to it.
        return max(1, round(self.timeout * 1000))

    def check(self, confirmed: object, what: str) -> None:
        """Raise ReplicationTimeoutError unless WAIT's reply reaches `replicas`."""
        count = int(confirmed) if isinstance(confirmed, int | bytes | str) else 0
        if count < self.replicas:
            raise ReplicationTimeoutError(
                f"{what} is on the Redis master, but only {count} of {self.replicas} "
                f"replicas confirmed it within {self.timeout:g} s: a failover before they "
                "catch up would lose it"
            )


NO_WAIT = EnqueueWait()


def from_values(replicas: object, timeout: object) -> EnqueueWait:
    """An EnqueueWait from setting values (numbers or their text; None: the default)."""
    try:
        count = 0 if replicas in (None, "") else int(str(replicas).strip())
    except ValueError:
        raise ConfigError(
            f"enqueue_wait_replicas must be a whole number (got {replicas!r})"
        ) from None
    try:
        seconds = DEFAULT_TIMEOUT if timeout in (None, "") else float(str(timeout).strip())
    except ValueError:
        raise ConfigError(
            f"enqueue_wait_timeout must be a number of seconds (got {timeout!r})"
        ) from None
    return EnqueueWait(count, seconds)


def from_environment(environ: Mapping[str, str] | None = None) -> EnqueueWait:
    """The wait SIDEQUEST_ENQUEUE_WAIT_REPLICAS / _TIMEOUT ask for (none when unset).

    Raises:
        ConfigError: a value is no number; the message names the variable.
    """
    values = os.environ if environ is None else environ
    try:
        return from_values(values.get(REPLICAS_VARIABLE), values.get(TIMEOUT_VARIABLE))
    except ConfigError as error:
        raise ConfigError(f"{REPLICAS_VARIABLE} / {TIMEOUT_VARIABLE}: {error}") from None
