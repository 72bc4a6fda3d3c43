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
import math
import re
import secrets
import time
import zlib
from typing import Any

import orjson

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


def encode_json(value: Any) -> str:
    """Compact JSON with text as is (not \\u-escaped), the form every payload is written in.

    orjson writes it about ten times faster than the standard library, which matters for
    bulk enqueues and retries; what orjson refuses (integers past 64 bits, which Ruby and
    Python read fine; lone surrogates; nesting past 254 levels) goes to the standard
    encoder, which writes it or raises as it always did. Values reaching here are JSON-
    native and finite: arguments are checked at enqueue and decode() refuses NaN.
    """
    try:
        return orjson.dumps(value).decode()
    except orjson.JSONEncodeError:
        return _encoder.encode(value)


def new_jid() -> str:
    """24 hex characters, as Sidekiq's `SecureRandom.hex(12)`."""
    return secrets.token_hex(12)


def new_jids(count: int) -> list[str]:
    """`count` jids from one read of the system's random source (a bulk enqueue's)."""
    hex_digits = secrets.token_hex(12 * count)
    return [hex_digits[start : start + 24] for start in range(0, 24 * count, 24)]


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


#: deepest nesting of arrays and objects a payload may have: Ruby's JSON parser refuses
#: deeper ones by default, and ours would run out of stack re-encoding them
MAX_NESTING = 100


def _no_constant(name: str) -> Any:
    raise MalformedPayloadError(f"queue entry contains {name}, which JSON does not allow")


def _finite_float(text: str) -> float:
    number = float(text)
    if not math.isfinite(number):
        raise MalformedPayloadError(f"queue entry has a number too large for a float: {text[:40]}")
    return number


# What decode returns must encode back: a retry, a recovery or a promotion rewrites the
# payload, and a thread that cannot write a payload must not be the one to find out.
# So NaN, Infinity and numbers like 1e400 (Python reads them, JSON and Ruby do not) are
# refused here, and so are lone UTF-16 surrogates (no UTF-8 for them) and deep nesting.
_decoder = json.JSONDecoder(parse_constant=_no_constant, parse_float=_finite_float)
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


def decode(raw: bytes | str) -> JobDict:
    """Parse a queue entry, raising MalformedPayloadError when it is not a job."""
    try:
        text = raw.decode() if isinstance(raw, bytes) else raw
        payload = _decoder.decode(text)
    except (ValueError, UnicodeDecodeError) as error:
        raise MalformedPayloadError(f"queue entry is not valid JSON: {error}") from None
    except RecursionError:
        raise MalformedPayloadError("queue entry is nested too deeply") from None
    if text.count("[") + text.count("{") > MAX_NESTING and _nesting(payload) > MAX_NESTING:
        raise MalformedPayloadError(f"queue entry is nested deeper than {MAX_NESTING} levels")
    if "\\u" in text and _SURROGATE_ESCAPE.search(text):
        try:
            encode_json(payload).encode()
        except UnicodeEncodeError:
            raise MalformedPayloadError(
                "queue entry has a lone UTF-16 surrogate (\\uD800-\\uDFFF)"
            ) from None
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


def _nesting(value: Any) -> int:
    """How deep arrays and objects nest in `value`, counting stops past MAX_NESTING."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack and deepest <= MAX_NESTING:
        item, depth = stack.pop()
        if isinstance(item, dict):
            item = list(item.values())
        if isinstance(item, list):
            deepest = max(deepest, depth)
            stack.extend((child, depth + 1) for child in item)
    return deepest


def timestamp(value: object) -> float | None:
    """Epoch seconds from a payload timestamp: float seconds, or Sidekiq 8's int ms.

    Anything else, and numbers no clock can show (NaN, infinities, integers too large
    for a float), read as no timestamp at all.
    """
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        try:
            return value / 1000.0
        except OverflowError:
            return None
    if isinstance(value, float):
        return value if math.isfinite(value) else None
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
    """The arguments a person should see: ActiveJob's `arguments` when wrapped.

    As stored, markers included (as Sidekiq's `display_args`); a keyword hash at the end
    is told apart by `sidequest.keywords.split`.
    """
    args = payload.get("args")
    if not isinstance(args, list):
        return []
    wrapped = active_job_arguments(payload)
    return list(wrapped) if wrapped is not None else args


def active_job_arguments(payload: JobDict) -> list[Any] | None:
    """The ActiveJob-serialized `arguments` of a wrapped payload; None for other payloads."""
    if str(payload.get("class", "")) in ACTIVE_JOB_WRAPPERS:
        job_data = _active_job_data(payload)
        arguments = None if job_data is None else job_data.get("arguments")
        if isinstance(arguments, list):
            return arguments
    return None


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
