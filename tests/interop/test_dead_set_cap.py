"""The dead set's cap: we keep exactly `dead_max_jobs` entries, Sidekiq keeps one fewer
(its `ZREMRANGEBYRANK dead 0 -max` trims to max - 1). A deliberate difference, listed
in docs/sidekiq-compatibility.md; Sidekiq's DeadSet reads the trimmed set as we do."""

from __future__ import annotations

import redis

from sidequest import api
from tests.interop import interop_jobs as jobs
from tests.interop.conftest import StartWorker
from tests.interop.ruby_console import RubyConsole
from tests.support.polling import wait_for


def test_the_dead_set_keeps_the_newest_dead_max_jobs_entries(
    start_worker: StartWorker,
    enqueue_to: str,
    store: redis.Redis,
    api_client: redis.Redis,
    ruby: RubyConsole,
) -> None:
    start_worker("-q", "reports", "-c", "1", env={"SIDEQUEST_DEAD_MAX_JOBS": "3"})
    jids = []
    for n in range(5):
        jids.append(jobs.DoomedReportJob.perform_later(n).jid)
        # One at a time, so the order of death is the order of enqueue.
        wait_for(lambda n=n: store.get("stat:failed") == str(n + 1), message=f"death {n}")

    kept = [entry.jid for entry in api.DeadSet(api_client).page(0, 10)]
    assert kept == list(reversed(jids[2:]))  # the newest three, newest first
    assert ruby.run("Sidekiq::DeadSet.new.map(&:jid)") == kept
