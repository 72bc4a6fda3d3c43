"""Queue entries that Python's json reads but no payload writer could have written.

Whatever `payload.decode` accepts, sidequest must be able to write back (a retry, a
recovery or a promotion rewrites it): such entries are refused up front, so they die on
arrival with a reason instead of failing later in a thread that cannot handle them.
"""

from __future__ import annotations

import pytest

from sidequest import payload
from sidequest.errors import MalformedPayloadError


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ('{"class":"A","args":[NaN]}', "NaN"),
        ('{"class":"A","args":[-Infinity]}', "-Infinity"),
        ('{"class":"A","args":[1e400]}', "too large for a float"),
        ('{"class":"A","args":["\\ud800"]}', "lone UTF-16 surrogate"),
        ('{"class":"A","args":[' + "[" * 120 + "]" * 120 + "]}", "deeper than 100"),
        ("[" * 50_000, "nested too deeply"),
        ('{"class":"A","args":[' + "1" * 5000 + "]}", "not valid JSON"),
    ],
)
def test_entries_that_cannot_be_written_back_are_malformed(raw: str, reason: str) -> None:
    with pytest.raises(MalformedPayloadError, match=reason):
        payload.decode(raw.encode())


def test_what_decode_accepts_encodes_back() -> None:
    raw = '{"class":"A","args":["\\ud83d\\ude00", 1.5, ' + "[" * 90 + "]" * 90 + ', "[[[["]}'
    job = payload.decode(raw)
    assert job["args"][0] == "\U0001f600"
    assert payload.decode(payload.encode(job)) == job


@pytest.mark.parametrize("value", [10**400, -(10**400), float("nan"), float("inf"), "1700000000"])
def test_timestamps_no_clock_can_show_read_as_none(value: object) -> None:
    assert payload.timestamp(value) is None
