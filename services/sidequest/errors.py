"""The error tree of sidequest.

Everything sidequest raises on purpose derives from `SidequestError`, so callers can
catch the framework's errors in one place. `Shutdown` is the exception: it derives
from BaseException so that a job's `except Exception:` cannot swallow it.
"""

from __future__ import annotations


class SidequestError(Exception):
    """Root of every error sidequest raises on purpose."""


class ConfigError(SidequestError):
    """The configuration is missing or invalid (bad YAML, bad queue spec, no Redis URL)."""


class SerializationError(SidequestError, TypeError):
    """A job argument is not JSON-native, so it would not survive the trip through Redis."""


class DeserializationError(SidequestError):
    """A job's arguments could not be turned back into what `perform` expects.

    Jobs commonly declare `@discard_on(DeserializationError)`: a record that no longer
    exists will not appear by retrying.
    """


class ArgumentMismatchError(SidequestError, TypeError):
    """The arguments do not fit the job's `perform` signature."""


class UnknownJobError(SidequestError):
    """No job class is registered under the payload's class name."""


class MalformedPayloadError(SidequestError):
    """A queue entry is not a job: not JSON, not an object, or missing `class`/`args`."""


class JobTimeoutError(SidequestError, TimeoutError):
    """A job ran past its `timeout` and was stopped."""


class PoisonPillError(SidequestError):
    """A job was in flight in too many worker processes that died while running it."""


class EnqueueError(SidequestError):
    """The job could not be enqueued (for example, Redis is unreachable)."""


class Shutdown(BaseException):  # a control-flow signal, not an error
    """Raised inside a job thread that the worker abandons during a hard shutdown."""


class JobCancelled(SidequestError):
    """Raised by `Job.check_cancelled()` once the running job was cancelled
    (`sidequest cancel JID`); the job is dropped: not retried, not dead."""
