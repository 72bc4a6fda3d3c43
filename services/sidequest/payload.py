"""Job payloads in Sidekiq's JSON format: building, encoding, decoding. Pure, no I/O.

A payload is the JSON object stored in `queue:*` lists and the `schedule`, `retry`
and `dead` sets. We write timestamps as float epoch seconds, which Sidekiq 6, 7 and
8 all read; we read both float seconds and Sidekiq 8's integer milliseconds (Sidekiq
tells them apart by JSON type, and so do we).
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import time
import zlib
from typing import Any

from sidequest.errors import MalformedPayloadError

JobDict = dict[str, Any]

# ActiveJob wraps the real class in one of these (Sidekiq 6/7 and 8 spellings).
ACTIVE_JOB_WRAPPERS = frozenset(
    {
        "ActiveJob::QueueAdapters::SidekiqAdapter::JobWrapper",
        "Sidekiq::ActiveJob::Wrapper",
    }
)

_encoder = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False)
encode_json = _encoder.encode


def new_jid() -> str:
    """24 hex characters, as Sidekiq's `SecureRandom.hex(12)`."""
    return secrets.token_hex(12)


def build(
    job_class: str,
    args: list[Any],
    *,
    queue: str = "default",
    retry: bool | int = True,
    jid: str | None = None,
    extra: dict[str, Any] | None = None,
    now: float | None = None,
) -> JobDict:
    """A new payload with Sidekiq's required fields (enqueued_at is set at push time)."""
    payload: JobDict = {
        "class": job_class,
        "args": args,
        "retry": retry,
        "queue": queue,
        "jid": jid or new_jid(),
        "created_at": time.time() if now is None else now,
    }
    if extra:
        payload.update(extra)
    return payload


def encode(payload: JobDict) -> str:
    return encode_json(payload)


_decoder = json.JSONDecoder()


def decode(raw: bytes | str) -> JobDict:
    """Parse a queue entry, raising MalformedPayloadError when it is not a job."""
    try:
        text = raw.decode() if isinstance(raw, bytes) else raw
        payload = _decoder.decode(text)
    except (ValueError, UnicodeDecodeError) as error:
        raise MalformedPayloadError(f"queue entry is not valid JSON: {error}") from None
    if not isinstance(payload, dict):
        raise MalformedPayloadError(
            f"queue entry is JSON but not an object (got {type(payload).__name__})"
        )
    job_class = payload.get("class")
    if not isinstance(job_class, str) or not job_class:
        raise MalformedPayloadError("job payload has no `class` string")
    if not isinstance(payload.get("args"), list):
        raise MalformedPayloadError("job payload has no `args` array")
    return payload


def timestamp(value: object) -> float | None:
    """Epoch seconds from a payload timestamp: float seconds, or Sidekiq 8's int ms."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value / 1000.0
    if isinstance(value, float):
        return value
    return None


def display_class(payload: JobDict) -> str:
    """The class a person should see: ActiveJob's wrapped class, or `display_class`."""
    shown = payload.get("display_class")
    if isinstance(shown, str):
        return shown
    job_class = str(payload.get("class", ""))
    if job_class in ACTIVE_JOB_WRAPPERS:
        wrapped = payload.get("wrapped")
        if isinstance(wrapped, str):
            return wrapped
        job_data = _active_job_data(payload)
        if job_data is not None and isinstance(job_data.get("job_class"), str):
            return str(job_data["job_class"])
    return job_class


def display_args(payload: JobDict) -> list[Any]:
    """The arguments a person should see: ActiveJob's `arguments` when wrapped."""
    args = payload.get("args")
    if not isinstance(args, list):
        return []
    if str(payload.get("class", "")) in ACTIVE_JOB_WRAPPERS:
        job_data = _active_job_data(payload)
        if job_data is not None and isinstance(job_data.get("arguments"), list):
            return list(job_data["arguments"])
    return args


def _active_job_data(payload: JobDict) -> dict[str, Any] | None:
    args = payload.get("args")
    if isinstance(args, list) and len(args) == 1 and isinstance(args[0], dict):
        return args[0]
    return None


def unique_digest(job_class: str, queue: str, args: list[Any]) -> str:
    """A stable digest of (class, queue, args): the identity of a unique job."""
    canonical = json.dumps([job_class, queue, args], sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:32]


def encode_backtrace(lines: list[str]) -> str:
    """Sidekiq's `error_backtrace`: base64(zlib(JSON array of lines)), strict base64."""
    return base64.b64encode(zlib.compress(encode_json(lines).encode())).decode()


def decode_backtrace(value: object) -> list[str]:
    """Decode `error_backtrace`; Sidekiq 6.4 wrote base64 with newlines, which we accept."""
    if not isinstance(value, str) or not value:
        return []
    try:
        lines = json.loads(zlib.decompress(base64.b64decode("".join(value.split()))))
    except (ValueError, zlib.error):
        return []
    return [str(line) for line in lines] if isinstance(lines, list) else []
