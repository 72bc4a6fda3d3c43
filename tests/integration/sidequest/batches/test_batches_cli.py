"""`sidequest batches list|show` against a real Redis, as a user runs them."""

from __future__ import annotations

import json

import redis

from sidequest.batches import Batch
from tests.integration.sidequest.batches.batch_jobs import CallbackJob, MemberJob
from tests.integration.sidequest.test_cli import sidequest


def test_list_and_show_a_batch(redis_url: str, redis_client: redis.Redis) -> None:
    batch = Batch(
        "Monthly statements",
        on_success=(CallbackJob, ["mailed"]),
        client=redis.Redis.from_url(redis_url),
    )
    with batch:
        MemberJob.perform_later(1)
        MemberJob.perform_later(2)
    with Batch("empty", client=redis.Redis.from_url(redis_url)):
        pass

    listed = sidequest("batches", "list", redis_url=redis_url)
    assert listed.returncode == 0, listed.stderr
    lines = listed.stdout.splitlines()
    assert lines[0].split()[:3] == ["bid", "description", "progress"]
    assert any(
        batch.bid in line and "Monthly statements" in line and "0%" in line for line in lines
    )
    assert any("empty" in line and "100%" in line for line in lines)

    shown = sidequest("batches", "show", batch.bid, redis_url=redis_url)
    assert shown.returncode == 0, shown.stderr
    assert "total 2  pending 2" in shown.stdout
    assert 'on_success   CallbackJob["mailed"] queue default  not fired' in shown.stdout
    assert shown.stdout.count("pending") == 3  # the counters' line and the two members

    as_json = json.loads(
        sidequest("batches", "show", batch.bid, "--json", redis_url=redis_url).stdout
    )
    assert as_json["total"] == 2 and set(as_json["members"].values()) == {"pending"}
    assert as_json["callbacks"][0]["event"] == "success"


def test_show_an_unknown_batch_exits_1(redis_url: str) -> None:
    result = sidequest("batches", "show", "f" * 24, redis_url=redis_url)
    assert result.returncode == 1
    assert "no batch" in result.stderr
