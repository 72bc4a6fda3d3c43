"""Whatever sits in Redis, no dashboard page answers 500.

The dashboard (sidequest.dashboard, a Flask blueprint) renders raw payloads pushed by
anyone: every page that lists or shows them is requested over a Redis holding the
entries of fuzz_entries.py, garbage process heartbeats and counters.
"""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import quote

import redis
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sidequest import api, keys
from tests.chaos.fuzz_entries import encode, entries, json_values
from tests.integration.dashboard.conftest import PREFIX, basic, make_app

PLACES = ("queue", "schedule", "retry", "dead")
Entry = tuple[bytes | dict[str, Any], bool]


def _raw(entry: Entry) -> bytes:
    value, is_object = entry
    return encode(value) if is_object else value  # type: ignore[return-value]


def _fill(client: redis.Redis, batch: list[tuple[str, Entry]], process: dict[str, str]) -> None:
    client.flushdb()
    now = time.time()
    for place, entry in batch:
        raw = _raw(entry)
        if place == "queue":
            client.sadd(keys.QUEUES, "fuzz")
            client.lpush(keys.queue("fuzz"), raw)
        else:
            client.zadd(place, {raw: now})
    identity = "host:1:abcdef"
    client.sadd(keys.PROCESSES, identity)
    if process:
        client.hset(keys.process(identity), mapping=process)  # type: ignore[arg-type]
    for thread, (place, entry) in enumerate(batch):
        if place == "queue":
            client.hset(keys.work(identity), str(thread), _raw(entry))


def _pages(client: redis.Redis) -> list[str]:
    pages = ["/", "/stats.json", "/busy", "/queues", "/retries", "/scheduled", "/dead", "/metrics"]
    pages += [f"{page}?filter=a" for page in ("/retries", "/scheduled", "/dead")]
    for queue in api.Queue.all(client):
        pages += [f"/queues/{quote(queue.name)}", f"/queues/{quote(queue.name)}?filter=a"]
    for path, sorted_set in (
        ("/retries", api.RetrySet(client)),
        ("/scheduled", api.ScheduledSet(client)),
        ("/dead", api.DeadSet(client)),
    ):
        pages += [f"{path}/entry/{quote(str(entry.id), safe='')}" for entry in sorted_set.each()]
    return pages


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    batch=st.lists(st.tuples(st.sampled_from(PLACES), entries), min_size=1, max_size=5),
    process=st.dictionaries(
        st.sampled_from(("info", "busy", "beat", "quiet", "rss", "rtt_us", "concurrency")),
        st.one_of(json_values.map(encode), st.binary(max_size=20)),
    ),
)
def test_no_dashboard_page_fails_whatever_redis_holds(
    redis_url: str, batch: list[tuple[str, Entry]], process: dict[str, str]
) -> None:
    app = make_app(redis_url)
    with redis.Redis.from_url(redis_url) as client, app.test_client() as browser:
        _fill(client, batch, process)
        failures = []
        for page in _pages(client):
            response = _get(browser, page)
            if response.status_code >= 500:
                failures.append((page, response.status_code, response.get_data(as_text=True)[:500]))
        assert not failures


def _get(browser: FlaskClient, page: str) -> Any:
    return browser.get(PREFIX + page, headers=basic())
