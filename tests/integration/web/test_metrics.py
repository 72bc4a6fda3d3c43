"""/metrics of the web tier: request metrics by endpoint, the cluster-wide gauges, and
correct totals when several gunicorn workers answer (prometheus_client multiprocess mode)."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from prometheus_client.parser import text_string_to_metric_families

from sidequest.errors import ConfigError
from tests.integration.web.conftest import MakeApp
from tests.support.polling import wait_for
from tests.support.redis_server import RedisServer
from tests.support.web_server import GunicornServer, http

REQUESTS = "sidequest_web_requests_total"
DURATION_COUNT = "sidequest_web_request_duration_seconds_count"
REPORT = {"kind": "sales_by_day", "from": "2024-01-01", "to": "2024-01-31"}


def samples(exposition: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """{(sample name, labels): value} of a text exposition."""
    found: dict[tuple[str, frozenset[tuple[str, str]]], float] = {}
    for family in text_string_to_metric_families(exposition):
        for sample in family.samples:
            found[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return found


def value(exposition: str, name: str, **labels: str) -> float | None:
    return samples(exposition).get((name, frozenset(labels.items())))


def total(exposition: str, name: str, **labels: str) -> float:
    """The sum of `name` over every series whose labels include `labels`."""
    wanted = set(labels.items())
    return sum(
        amount
        for (sample, sample_labels), amount in samples(exposition).items()
        if sample == name and wanted <= sample_labels
    )


def test_requests_are_counted_by_endpoint_name_not_path(make_app: MakeApp, redis_url: str) -> None:
    client = make_app(redis_url).test_client()
    first = client.post("/api/reports", json=REPORT).get_json()["id"]
    second = client.post("/api/reports", json=REPORT).get_json()["id"]
    assert first != second
    for report_id in (first, second, first):
        assert client.get(f"/api/reports/{report_id}").status_code == 200
    assert client.get("/no/such/page").status_code == 404
    assert client.get(f"/api/reports/{first}/nope").status_code == 404
    assert client.delete("/api/reports").status_code == 405
    assert client.open("/healthz", method="BREW").status_code == 405

    exposition = client.get("/metrics").get_data(as_text=True)
    assert value(exposition, REQUESTS, method="GET", endpoint="reports_api.show", status="200") == 3
    assert value(exposition, DURATION_COUNT, method="GET", endpoint="reports_api.show") == 3
    assert value(exposition, REQUESTS, method="POST", endpoint="reports_api.create", status="202")
    assert value(exposition, REQUESTS, method="GET", endpoint="unmatched", status="404") == 2
    assert value(exposition, REQUESTS, method="DELETE", endpoint="unmatched", status="405") == 1
    assert value(exposition, REQUESTS, method="other", endpoint="unmatched", status="405") == 1
    # No label value carries a path or an id: the series stay bounded.
    endpoints = {
        dict(labels)["endpoint"]
        for name, labels in samples(exposition)
        if name in (REQUESTS, DURATION_COUNT)
    }
    assert endpoints == {"reports_api.create", "reports_api.show", "unmatched"}
    assert not any(first in label for label in endpoints)


def test_scrapes_are_not_counted_as_traffic(make_app: MakeApp, redis_url: str) -> None:
    client = make_app(redis_url).test_client()
    client.get("/metrics")
    exposition = client.get("/metrics").get_data(as_text=True)
    assert total(exposition, REQUESTS) == 0
    assert client.get("/healthz").status_code == 200
    assert total(client.get("/metrics").get_data(as_text=True), REQUESTS) == 1


def test_an_unexpected_error_is_counted_as_a_500(make_app: MakeApp, redis_url: str) -> None:
    app = make_app(redis_url, PROPAGATE_EXCEPTIONS=False)

    def explode() -> str:
        raise RuntimeError("boom")

    app.add_url_rule("/explode", "explode", explode)
    client = app.test_client()
    assert client.get("/explode").status_code == 500
    exposition = client.get("/metrics").get_data(as_text=True)
    assert value(exposition, REQUESTS, method="GET", endpoint="explode", status="500") == 1


def test_durations_fall_into_the_histogram_buckets(make_app: MakeApp, redis_url: str) -> None:
    client = make_app(redis_url).test_client()
    for _ in range(4):
        client.get("/healthz")
    exposition = client.get("/metrics").get_data(as_text=True)
    labels = {"method": "GET", "endpoint": "health.healthz"}
    bucket = "sidequest_web_request_duration_seconds_bucket"
    assert value(exposition, bucket, **labels, le="+Inf") == 4
    assert value(exposition, bucket, **labels, le="30.0") == 4, "a probe takes under 30 s"
    seconds = value(exposition, "sidequest_web_request_duration_seconds_sum", **labels)
    assert seconds is not None and 0 < seconds < 4 * 30


def test_cluster_gauges_come_from_redis(
    make_app: MakeApp, redis_url: str, redis_client: redis.Redis
) -> None:
    client = make_app(redis_url).test_client()
    for _ in range(3):
        assert client.post("/api/reports", json=REPORT).status_code == 202
    redis_client.zadd("dead", {'{"class":"X","jid":"1"}': 1.0})
    wait_for(lambda: redis_client.llen("queue:reports") == 3, message="the relayed jobs")

    answer = client.get("/metrics")
    assert answer.status_code == 200
    assert answer.content_type.startswith("text/plain")
    exposition = answer.get_data(as_text=True)
    assert value(exposition, "sidequest_queue_size", queue="reports") == 3
    latency = value(exposition, "sidequest_queue_latency_seconds", queue="reports")
    assert latency is not None and latency >= 0
    assert value(exposition, "sidequest_dead_jobs") == 1
    assert value(exposition, "sidequest_retry_jobs") == 0
    assert value(exposition, "sidequest_scheduled_jobs") == 0
    assert value(exposition, "sidequest_processes") == 0
    assert value(exposition, "sidequest_redis_up") == 1


def test_metrics_answer_while_redis_is_down(
    make_app: MakeApp, own_redis_server: RedisServer
) -> None:
    client = make_app(own_redis_server.url).test_client()
    client.get("/healthz")
    own_redis_server.stop()
    answer = client.get("/metrics")
    assert answer.status_code == 200
    exposition = answer.get_data(as_text=True)
    assert value(exposition, "sidequest_redis_up") == 0
    assert value(exposition, "sidequest_queue_size", queue="reports") is None
    assert value(exposition, REQUESTS, method="GET", endpoint="health.healthz", status="200") == 1


def test_a_missing_multiprocess_directory_is_named_at_start(
    make_app: MakeApp, redis_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path / "missing"))
    with pytest.raises(ConfigError, match="PROMETHEUS_MULTIPROC_DIR"):
        make_app(redis_url)


# ------------------------------------------------------------------ several gunicorn workers


@pytest.fixture
def multiprocess_web(tmp_path: Path, redis_url: str) -> Iterator[GunicornServer]:
    """gunicorn with three workers sharing one (empty) PROMETHEUS_MULTIPROC_DIR."""
    directory = tmp_path / "multiproc"
    directory.mkdir()
    env = {
        "REDIS_URL": redis_url,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'shop.db'}",
        "REPORTS_DIR": str(tmp_path / "reports"),
        "SECRET_KEY": "metrics-test",
        "PROMETHEUS_MULTIPROC_DIR": str(directory),
    }
    with GunicornServer(env, tmp_path / "gunicorn.log", workers=3) as server:
        yield server


def counting_pids(server: GunicornServer) -> set[int]:
    """Workers that counted at least one request (a counter file exists for their pid)."""
    directory = Path(server.env["PROMETHEUS_MULTIPROC_DIR"])
    return {int(path.stem.rsplit("_", 1)[1]) for path in directory.glob("counter_*.db")}


def worker_pids(server: GunicornServer) -> set[int]:
    assert server.process is not None
    master = server.process.pid
    children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
    return {int(pid) for pid in children}


def probe(server: GunicornServer) -> bool:
    # A new connection per request (urllib closes it), so any worker may accept it.
    assert http("GET", server.url("/healthz")).status == 200
    return True


def scraped_total(server: GunicornServer, **labels: str) -> float:
    answer = http("GET", server.url("/metrics"))
    assert answer.status == 200
    return total(answer.body.decode(), REQUESTS, **labels)


def test_several_gunicorn_workers_report_one_total(multiprocess_web: GunicornServer) -> None:
    # The start-up probes of GunicornServer were counted too.
    sent = scraped_total(multiprocess_web, endpoint="health.healthz")

    def spread_over_workers() -> bool:
        nonlocal sent
        for _ in range(10):
            sent += probe(multiprocess_web)
        return len(counting_pids(multiprocess_web)) >= 2

    wait_for(spread_over_workers, timeout=30, message="requests served by two gunicorn workers")
    assert counting_pids(multiprocess_web) <= worker_pids(multiprocess_web)
    # Each scrape may be answered by any worker: every one of them reports the total.
    for _ in range(6):
        assert scraped_total(multiprocess_web, endpoint="health.healthz") == sent


def test_requests_of_a_killed_worker_still_count(multiprocess_web: GunicornServer) -> None:
    sent = scraped_total(multiprocess_web, endpoint="health.healthz")

    def every_worker_counted() -> bool:
        nonlocal sent
        sent += probe(multiprocess_web)
        return counting_pids(multiprocess_web) == worker_pids(multiprocess_web)

    wait_for(every_worker_counted, timeout=30, message="requests served by all three workers")
    victim = min(counting_pids(multiprocess_web))
    os.kill(victim, signal.SIGKILL)
    wait_for(
        lambda: (
            victim not in worker_pids(multiprocess_web) and len(worker_pids(multiprocess_web)) == 3
        ),
        timeout=30,
        message="gunicorn to replace the killed worker",
    )
    assert scraped_total(multiprocess_web, endpoint="health.healthz") == sent
    probe(multiprocess_web)
    assert scraped_total(multiprocess_web, endpoint="health.healthz") == sent + 1


def test_the_outbox_gauges_show_rows_waiting_while_redis_is_down(
    make_app: MakeApp, own_redis_server: RedisServer
) -> None:
    client = make_app(own_redis_server.url).test_client()
    own_redis_server.stop()
    assert client.post("/api/reports", json=REPORT).status_code == 202

    exposition = client.get("/metrics").get_data(as_text=True)

    assert value(exposition, "sidequest_outbox_up") == 1
    assert value(exposition, "sidequest_outbox_pending") == 1
    age = value(exposition, "sidequest_outbox_oldest_age_seconds")
    assert age is not None and age >= 0
    own_redis_server.start()

    def drained() -> bool:
        text = client.get("/metrics").get_data(as_text=True)
        return value(text, "sidequest_outbox_pending") == 0

    wait_for(drained, timeout=15, message="the outbox to drain")
    text = client.get("/metrics").get_data(as_text=True)
    assert value(text, "sidequest_outbox_oldest_age_seconds") == 0
