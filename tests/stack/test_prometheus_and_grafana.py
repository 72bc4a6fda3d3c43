"""Prometheus (the real binary) scraping the stack: job counters, failures, the metric
contract of the dashboard and alerts, and every Grafana panel query returning data."""

from __future__ import annotations

import json
import re
import secrets
import time
from typing import Any

import redis

from tests.infra.conftest import SERIES_NAMES
from tests.stack.clients import Prometheus, finite
from tests.stack.grafana_queries import panel_queries, to_promql
from tests.stack.stack import Stack, unique_address
from tests.support.polling import wait_for

REPORT_JOBS = 'sum(sidequest_jobs_processed_total{job_class="ProcessReportJob"})'


def patience(prometheus: Prometheus) -> float:
    """Seconds to allow for something to show up in Prometheus: a few scrapes."""
    return 5 * prometheus.scrape_interval() + 20


def rate_window(prometheus: Prometheus) -> str:
    """What Grafana's $__rate_interval comes to: at least four scrape intervals."""
    return f"{max(30, round(4 * prometheus.scrape_interval()))}s"


def counter(prometheus: Prometheus, expr: str) -> float:
    return prometheus.value(expr) or 0.0


def wait_for_increase(prometheus: Prometheus, expr: str, before: float, by: float) -> float:
    try:
        wait_for(
            lambda: counter(prometheus, expr) >= before + by,
            timeout=patience(prometheus),
            interval=0.2,
            message=f"{expr} to grow by {by} from {before}",
        )
    except AssertionError as timeout:
        raise AssertionError(f"{timeout}; it is {counter(prometheus, expr)}") from None
    return counter(prometheus, expr)


def push_raw_job(
    client: redis.Redis, job_class: str, args: list[Any], queue: str, retry: bool | int = True
) -> str:
    """Enqueue a Sidekiq-format payload straight into Redis, as any Sidekiq client can."""
    jid = secrets.token_hex(12)
    now = time.time()
    payload = {
        "class": job_class,
        "args": args,
        "jid": jid,
        "queue": queue,
        "retry": retry,
        "created_at": now,
        "enqueued_at": now,
    }
    client.sadd("queues", queue)
    client.lpush(f"queue:{queue}", json.dumps(payload))
    return jid


def remove_from_set(client: redis.Redis, key: str, jid: str) -> int:
    removed = 0
    for entry in client.zrange(key, 0, -1):
        if json.loads(entry).get("jid") == jid:
            removed += int(client.zrem(key, entry))
    return removed


def test_prometheus_scrapes_the_web_and_worker_jobs(stack: Stack) -> None:
    def every_target_up() -> bool:
        targets = stack.prometheus.targets()
        return all(targets.get(job) and set(targets[job]) == {"up"} for job in ("web", "worker"))

    try:
        wait_for(every_target_up, timeout=patience(stack.prometheus), interval=0.2)
    except AssertionError:
        raise AssertionError(f"targets not all up: {stack.prometheus.targets()}") from None


def test_processed_report_jobs_reach_prometheus(stack: Stack) -> None:
    before = counter(stack.prometheus, REPORT_JOBS)
    report = stack.shop.request_report(unique_address("prometheus"))
    final = stack.shop.wait_until_final([report["id"]], timeout=60)
    assert final[report["id"]]["status"] == "done"
    after = wait_for_increase(stack.prometheus, REPORT_JOBS, before, 1)
    assert after > 0
    by_queue = stack.prometheus.query(
        'sum by (queue) (sidequest_jobs_processed_total{job_class="ProcessReportJob"})'
    )
    assert [sample.labels["queue"] for sample in by_queue] == ["reports"]


def mail_outage(stack: Stack) -> None:
    """The SMTP server is down while a report's mail is sent: the job goes to the retry
    set (counted by the workers and by the cluster gauge) and delivers once it is back."""
    operator = stack.operator()
    retried = "sum(sidequest_jobs_retried_total)"
    before = counter(stack.prometheus, retried)
    address = unique_address("retried")
    operator.stop_mail()
    try:
        report = stack.shop.request_report(address)
        stack.shop.wait_until_final([report["id"]], timeout=60)
        wait_for_increase(stack.prometheus, retried, before, 1)
        wait_for(
            lambda: counter(stack.prometheus, "max(sidequest_retry_jobs)") >= 1,
            timeout=patience(stack.prometheus),
            message="the retry set gauge to count the mail job",
        )
    finally:
        operator.start_mail()
    # The first retry comes a few seconds later (ActiveJob's polynomial backoff).
    mails = stack.mail.wait_for_mail_to(address, 1, timeout=90)
    assert len(mails) == 1


def poison_jobs(stack: Stack) -> None:
    """A payload naming no job class dies (`retry: 0`: an unknown class is retried on
    the payload's retry policy, issue 22); a report job for a deleted report is
    discarded (the shop's discard_on rule). Both count as failed executions."""
    failed = "sum(sidequest_jobs_failed_total)"
    dead = 'sum(sidequest_jobs_dead_total{job_class="NoSuchStackTestJob"})'
    discarded = 'sum(sidequest_jobs_discarded_total{job_class="ProcessReportJob"})'
    before = {expr: counter(stack.prometheus, expr) for expr in (failed, dead, discarded)}
    dead_jid = push_raw_job(stack.redis, "NoSuchStackTestJob", [], "default", retry=0)
    push_raw_job(stack.redis, "ProcessReportJob", [f"deleted-{dead_jid}"], "reports")
    try:
        wait_for_increase(stack.prometheus, dead, before[dead], 1)
        wait_for_increase(stack.prometheus, discarded, before[discarded], 1)
        wait_for_increase(stack.prometheus, failed, before[failed], 2)
        wait_for(
            lambda: counter(stack.prometheus, "max(sidequest_dead_jobs)") >= 1,
            timeout=patience(stack.prometheus),
            message="the dead set gauge to count the poison job",
        )
    finally:
        remove_from_set(stack.redis, "dead", dead_jid)


def test_a_mail_the_server_refused_is_retried_and_delivered(stack: Stack) -> None:
    mail_outage(stack)


def test_failed_jobs_are_counted_by_outcome(stack: Stack) -> None:
    poison_jobs(stack)


def exported_series(prometheus: Prometheus) -> set[str]:
    samples = prometheus.query('group by (__name__) ({__name__=~"sidequest_.+"})')
    return {sample.labels["__name__"] for sample in samples}


def test_every_metric_the_dashboard_and_alerts_use_is_exported(stack: Stack) -> None:
    """What infra/grafana and infra/prometheus/rules.yml query exists in Prometheus, as
    exported by the real processes (tests/infra checks the names against the files).
    The failure counters exist once something failed: the two tests above make that
    happen; run alone, this test makes it happen itself."""
    missing = SERIES_NAMES - exported_series(stack.prometheus)
    if "sidequest_jobs_retried_total" in missing:
        mail_outage(stack)
    if missing & {"sidequest_jobs_dead_total", "sidequest_jobs_discarded_total"}:
        poison_jobs(stack)
    try:
        wait_for(
            lambda: exported_series(stack.prometheus) >= SERIES_NAMES,
            timeout=patience(stack.prometheus),
            interval=0.5,
            message="every contract metric in Prometheus",
        )
    except AssertionError:
        missing = SERIES_NAMES - exported_series(stack.prometheus)
        raise AssertionError(f"not in Prometheus: {sorted(missing)}") from None


def test_every_grafana_panel_query_returns_data(stack: Stack) -> None:
    prometheus = stack.prometheus
    # Fresh jobs and requests, so every rate() over the panels' window sees some.
    before = counter(prometheus, REPORT_JOBS)
    address = unique_address("grafana")
    reports = [
        stack.shop.request_report(address, kind) for kind in ("sales_by_day", "sales_by_product")
    ]
    stack.shop.wait_until_final([report["id"] for report in reports], timeout=60)
    for path in ("/", "/reports", "/healthz"):
        stack.shop.request("GET", path)
    wait_for_increase(prometheus, REPORT_JOBS, before, len(reports))

    window = rate_window(prometheus)
    queries = {f"{title}: {expr}": to_promql(expr, window) for title, expr in panel_queries()}
    assert queries
    results: dict[str, Any] = {}

    def all_answer() -> bool:
        for name, expr in queries.items():
            if name not in results or not finite(results[name]):
                results[name] = prometheus.query(expr)
        return all(finite(samples) for samples in results.values())

    try:
        wait_for(all_answer, timeout=patience(prometheus), interval=0.5, message="panel data")
    except AssertionError:
        empty = {name: results.get(name) for name in queries if not finite(results.get(name, []))}
        raise AssertionError(f"panel queries without data (window {window}): {empty}") from None
    assert all(re.search(r"\$", expr) is None for expr in queries.values())
