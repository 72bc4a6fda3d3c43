"""The dashboard's Limits page over limiter state written by the real scripts."""

from __future__ import annotations

import json

import redis

from sidequest import keys
from sidequest.runtime.store.limits import Admission, Bound, LimitStore
from tests.integration.dashboard.conftest import Browser

ME = "host:1:aaaaaaaaaaaa"


def test_the_limits_page_lists_keys_slots_and_the_parked_jobs(
    browser: Browser, redis_client: redis.Redis
) -> None:
    store = LimitStore(redis_client, ME)
    redis_client.set(keys.lease(ME), "1")
    bound = Bound("concurrency", "stripe:<42>", 1, 300.0)
    for n in range(2):
        raw = json.dumps({"class": "ChargeJob", "args": [42], "jid": f"jid{n}", "queue": "q"})
        redis_client.hset(keys.inflight(ME), f"{n}:q", raw)
        store.exchange([], [Admission(f"{n}:q", raw.encode(), f"{ME}|{n}", [bound])])
    page = browser.get("/limits").get_data(as_text=True)
    assert "stripe:&lt;42&gt;" in page and "stripe:<42>" not in page
    assert "1 of 1 slots" in page and "full" in page
    assert "jid1" in page and "ChargeJob" in page


def test_without_limits_the_page_says_how_they_appear(browser: Browser) -> None:
    page = browser.get("/limits").get_data(as_text=True)
    assert "No limits in use" in page
