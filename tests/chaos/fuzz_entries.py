"""Hypothesis strategies for what can sit in a queue or a sorted set: anything.

Anyone with write access to Redis can push there (a Ruby client with a bug, an
operator's `redis-cli`, a half-written migration). Three families:
- arbitrary bytes (invalid UTF-8 included);
- arbitrary JSON values, NaN and Infinity included (Python's json reads them);
- job-shaped objects whose every field may have any type or size, plus hand-picked
  texts that broke parsers before: deep nesting, lone surrogates, out-of-range numbers,
  integers longer than Python converts.
"""

from __future__ import annotations

import json
from typing import Any

from hypothesis import strategies as st

# Names a worker resolves (FuzzSinkJob, see fault_jobs.py), and some it does not.
CLASS_NAMES = (
    "FuzzSinkJob",
    "tests.chaos.fault_jobs.FuzzSinkJob",
    "NoSuchJob",
    "ActiveJob::QueueAdapters::SidekiqAdapter::JobWrapper",
    "Sidekiq::ActiveJob::Wrapper",
    "",
)

FIELDS = (
    "class",
    "args",
    "jid",
    "queue",
    "retry",
    "retry_count",
    "retry_queue",
    "created_at",
    "enqueued_at",
    "failed_at",
    "retried_at",
    "error_class",
    "error_message",
    "error_backtrace",
    "backtrace",
    "wrapped",
    "display_class",
    "unique_digest",
    "unique_for",
    "recoveries",
    "exception_executions",
    "dead",
    "at",
    "tags",
)

NASTY_TEXTS = (
    "[" * 3000,
    '{"class":"FuzzSinkJob","args":[' + "[" * 3000 + "]" * 3000 + "]}",
    '{"class":"FuzzSinkJob","args":["\\ud800"]}',
    '{"class":"NoSuchJob","args":["\\udfff\\ud800"]}',
    '{"class":"FuzzSinkJob","args":[NaN]}',
    '{"class":"NoSuchJob","args":[Infinity, -Infinity]}',
    '{"class":"FuzzSinkJob","args":[1e400]}',
    '{"class":"FuzzSinkJob","args":[],"enqueued_at":1' + "0" * 400 + "}",
    '{"class":"FuzzSinkJob","args":[],"created_at":-1' + "0" * 400 + "}",
    '{"class":"FuzzSinkJob","args":[' + "7" * 5000 + "]}",
    '{"class":"NoSuchJob","args":[],"retry_count":' + "9" * 400 + "}",
    '{"class":"NoSuchJob","args":[],"retry":' + "9" * 400 + "}",
    '{"class":"FuzzSinkJob","args":[],"exception_executions":"abc"}',
    '{"class":"FuzzSinkJob","args":[],"error_backtrace":"!!!not base64"}',
    '{"class":"ActiveJob::QueueAdapters::SidekiqAdapter::JobWrapper","args":[{"arguments":7}]}',
    '{"class":"Sidekiq::ActiveJob::Wrapper","wrapped":5,"args":[{"job_class":[],"arguments":[]}]}',
    '{"class":"FuzzSinkJob","args":"not a list"}',
    '{"class":{"a":1},"args":[]}',
    "",
    "null",
    "\x00\x01\x02",
)

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=10**300, max_value=10**400)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=30)
)
json_values = st.recursive(
    json_scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)


@st.composite
def job_shaped(draw: st.DrawFn) -> dict[str, Any]:
    """An object with some of Sidekiq's fields; a class name and args most of the time."""
    job: dict[str, Any] = draw(st.dictionaries(st.sampled_from(FIELDS), json_values, max_size=6))
    if draw(st.booleans()):
        job["class"] = draw(st.sampled_from(CLASS_NAMES))
    if draw(st.booleans()):
        job["args"] = draw(st.lists(json_values, max_size=3))
    return job


def encode(value: Any) -> bytes:
    """JSON as Python writes it by default, NaN and Infinity included."""
    return json.dumps(value).encode()


#: one queue or set entry, and whether it is an object we can tag with a marker
entries = st.one_of(
    st.binary(max_size=64).map(lambda raw: (raw, False)),
    json_values.map(lambda value: (encode(value), False)),
    st.sampled_from(NASTY_TEXTS).map(lambda text: (text.encode(), False)),
    job_shaped().map(lambda job: (job, True)),
)
