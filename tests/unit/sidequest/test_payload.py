"""payload: Sidekiq's job JSON, built, encoded, decoded and displayed."""

from __future__ import annotations

import base64
import json
import re
import time
import zlib
from typing import Any

import pytest

from sidequest import MalformedPayloadError, payload

HEX24 = re.compile(r"[0-9a-f]{24}")


def test_build_sets_sidekiqs_required_fields() -> None:
    job = payload.build("ReportJob", [1, "x"], queue="reports", retry=5, now=1712345678.25)
    assert job["class"] == "ReportJob"
    assert job["args"] == [1, "x"]
    assert job["queue"] == "reports"
    assert job["retry"] == 5
    assert job["created_at"] == 1712345678.25
    assert HEX24.fullmatch(job["jid"])


def test_build_defaults_to_the_default_queue_and_retry_true() -> None:
    before = time.time()
    job = payload.build("ReportJob", [])
    assert job["queue"] == "default"
    assert job["retry"] is True
    assert isinstance(job["created_at"], float)
    assert before <= job["created_at"] <= time.time()


def test_build_leaves_enqueued_at_to_push_time() -> None:
    assert "enqueued_at" not in payload.build("ReportJob", [])


def test_build_keeps_a_given_jid_and_merges_extra_fields() -> None:
    job = payload.build("ReportJob", [], jid="a" * 24, extra={"retry_queue": "slow", "tags": ["t"]})
    assert job["jid"] == "a" * 24
    assert job["retry_queue"] == "slow"
    assert job["tags"] == ["t"]


def test_new_jids_are_24_hex_characters_and_differ() -> None:
    jids = {payload.new_jid() for _ in range(200)}
    assert len(jids) == 200
    assert all(HEX24.fullmatch(jid) for jid in jids)


def test_new_jids_in_bulk_are_24_hex_characters_and_differ() -> None:
    jids = payload.new_jids(500)
    assert len(jids) == 500 == len(set(jids))
    assert all(HEX24.fullmatch(jid) for jid in jids)
    assert payload.new_jids(0) == []


def test_encode_then_decode_round_trips_a_payload() -> None:
    job = payload.build("ReportJob", [1, {"name": "Zoë", "tags": ["a"]}, None, 2.5], now=1.5)
    raw = payload.encode(job)
    assert payload.decode(raw) == job
    assert payload.decode(raw.encode()) == job


def test_encode_is_compact_and_keeps_non_ascii_text() -> None:
    raw = payload.encode({"class": "X", "args": ["Zoë"]})
    assert raw == '{"class":"X","args":["Zoë"]}'


@pytest.mark.parametrize("text", ["NaN", "Infinity", "-Infinity", "1e400"])
def test_no_non_finite_number_gets_in_through_decode(text: str) -> None:
    # encode() relies on it (orjson would write NaN as null): what it re-encodes was
    # decoded here, and arguments are checked at enqueue (test_arguments.py).
    with pytest.raises(MalformedPayloadError):
        payload.decode('{"class":"X","args":[' + text + "]}")


@pytest.mark.parametrize(
    ("raw", "complaint"),
    [
        (b"not json at all", "not valid JSON"),
        (b"\xff\xfe\x00garbage", "not valid JSON"),
        ("", "not valid JSON"),
        ("[1, 2]", "not an object"),
        ('"ReportJob"', "not an object"),
        ("42", "not an object"),
        ('{"args": []}', "class"),
        ('{"class": "", "args": []}', "class"),
        ('{"class": 7, "args": []}', "class"),
        ('{"class": "ReportJob"}', "args"),
        ('{"class": "ReportJob", "args": {"a": 1}}', "args"),
        ('{"class": "ReportJob", "args": "1"}', "args"),
    ],
)
def test_decode_raises_malformed_payload_error_for_what_is_not_a_job(
    raw: str | bytes, complaint: str
) -> None:
    with pytest.raises(MalformedPayloadError, match=complaint):
        payload.decode(raw)


def test_timestamp_reads_float_seconds_as_seconds() -> None:
    assert payload.timestamp(1712345678.5) == 1712345678.5


def test_timestamp_reads_sidekiq_8_integer_milliseconds() -> None:
    assert payload.timestamp(1712345678123) == pytest.approx(1712345678.123, abs=1e-6)


@pytest.mark.parametrize("value", [True, False, None, "1712345678.5", [1], {}])
def test_timestamp_rejects_booleans_and_non_numbers(value: object) -> None:
    assert payload.timestamp(value) is None


def _active_job(wrapper: str, **fields: Any) -> dict[str, Any]:
    job_data = {
        "job_class": "SendDigestJob",
        "job_id": "0b7f",
        "queue_name": "mailers",
        "arguments": [42, "weekly"],
        "executions": 0,
    }
    return {"class": wrapper, "args": [job_data], "queue": "mailers", **fields}


@pytest.mark.parametrize("wrapper", sorted(payload.ACTIVE_JOB_WRAPPERS))
def test_display_class_unwraps_both_active_job_wrapper_names(wrapper: str) -> None:
    job = _active_job(wrapper, wrapped="SendDigestJob")
    assert payload.display_class(job) == "SendDigestJob"
    assert payload.display_args(job) == [42, "weekly"]


def test_both_sidekiq_wrapper_spellings_are_known() -> None:
    expected = {
        "ActiveJob::QueueAdapters::SidekiqAdapter::JobWrapper",
        "Sidekiq::ActiveJob::Wrapper",
    }
    assert expected == payload.ACTIVE_JOB_WRAPPERS


def test_display_class_prefers_wrapped_over_the_job_data() -> None:
    job = _active_job("Sidekiq::ActiveJob::Wrapper", wrapped="OtherJob")
    assert payload.display_class(job) == "OtherJob"


def test_display_class_falls_back_to_job_class_when_wrapped_is_missing() -> None:
    job = _active_job("Sidekiq::ActiveJob::Wrapper")
    assert payload.display_class(job) == "SendDigestJob"


def test_display_class_honours_an_explicit_display_class() -> None:
    job = {"class": "ReportJob", "args": [], "display_class": "Reports::Nightly"}
    assert payload.display_class(job) == "Reports::Nightly"


def test_plain_payloads_display_their_own_class_and_args() -> None:
    job = {"class": "ReportJob", "args": [{"arguments": [1]}]}
    assert payload.display_class(job) == "ReportJob"
    assert payload.display_args(job) == [{"arguments": [1]}]


def test_display_args_of_a_payload_without_an_args_list_is_empty() -> None:
    assert payload.display_args({"class": "ReportJob", "args": "nope"}) == []


def test_unique_digest_is_stable_across_calls_and_versions() -> None:
    args: list[Any] = [1, {"b": 2, "a": [1, "x"]}]
    digest = payload.unique_digest("DigestJob", "default", args)
    assert digest == payload.unique_digest("DigestJob", "default", args)
    # Locks live in Redis across deploys: the digest must not change between releases.
    assert digest == "7ddaf5fdd54c549d0aafaec6a5de3670"


def test_unique_digest_ignores_dict_key_order() -> None:
    first = payload.unique_digest("DigestJob", "default", [{"a": 1, "b": 2}])
    second = payload.unique_digest("DigestJob", "default", [{"b": 2, "a": 1}])
    assert first == second


def test_unique_digest_differs_by_class_queue_and_args() -> None:
    base = payload.unique_digest("DigestJob", "default", [1])
    assert payload.unique_digest("OtherJob", "default", [1]) != base
    assert payload.unique_digest("DigestJob", "critical", [1]) != base
    assert payload.unique_digest("DigestJob", "default", [2]) != base
    assert payload.unique_digest("DigestJob", "default", ["1"]) != base
    assert re.fullmatch(r"[0-9a-f]{32}", base)


def test_backtrace_round_trips_through_strict_base64() -> None:
    lines = ['  File "app.py", line 3, in perform', "ValueError: boom", "Zoë"]
    encoded = payload.encode_backtrace(lines)
    assert "\n" not in encoded
    assert payload.decode_backtrace(encoded) == lines


def test_backtrace_is_sidekiqs_base64_of_zlib_of_json() -> None:
    lines = ["a.rb:1:in `x'", "b.rb:2:in `y'"]
    decoded = json.loads(zlib.decompress(base64.b64decode(payload.encode_backtrace(lines))))
    assert decoded == lines


def test_decode_backtrace_accepts_sidekiq_6_4_base64_with_newlines() -> None:
    lines = [f"/app/jobs/report_job.rb:{n}:in `perform'" for n in range(40)]
    legacy = base64.encodebytes(zlib.compress(json.dumps(lines).encode())).decode()
    assert legacy.count("\n") > 1
    assert payload.decode_backtrace(legacy) == lines


@pytest.mark.parametrize("value", [None, "", 5, "not base64 !!", base64.b64encode(b"x").decode()])
def test_decode_backtrace_of_garbage_is_empty(value: object) -> None:
    assert payload.decode_backtrace(value) == []


def test_encode_reads_back_as_what_the_standard_library_writes() -> None:
    standard = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    job = payload.build(
        "Reports::BuildJob",
        [
            42,
            -(2**63),
            2**64 - 1,
            0.1,
            1e-7,
            123456789.125,
            'Zoë "quoted" \\ back\nslash\t\u0001 \u2028 😀',
            {"nested": [None, True, False, [], {}], "ключ": "значение"},
        ],
        now=1_795_835_123.8691442,
    )
    assert json.loads(payload.encode(job)) == json.loads(standard.encode(job)) == job


def test_encode_falls_back_for_what_orjson_refuses() -> None:
    huge = payload.build("BigJob", [2**70, -(2**65)], now=1.0)
    assert payload.decode(payload.encode(huge))["args"] == [2**70, -(2**65)]
    deep: list[object] = []
    for _ in range(300):
        deep = [deep]
    assert json.loads(payload.encode_json(deep)) == deep
    with pytest.raises(UnicodeEncodeError):
        payload.encode_json(["\udcff"]).encode()
