"""Sidekiq's API and Web UI (Debian's 6.4.1) act on our workers (issue 6, part 4):
RetrySet#retry_all moves our failed jobs back and our worker runs them; quiet and stop,
sent with Sidekiq::Process#quiet!/#stop! or the Web UI's buttons, reach our processes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis

from tests.interop import interop_jobs as jobs
from tests.interop.conftest import StartWorker, identity_of
from tests.interop.ruby_console import RubyConsole
from tests.interop.web_ui import SidekiqWeb
from tests.support.polling import wait_for
from tests.support.worker_process import WorkerProcess


@pytest.fixture(scope="module")
def web(redis_url: str, interop_dir: Path) -> Iterator[SidekiqWeb]:
    server = SidekiqWeb.start(redis_url, interop_dir / "web-ui.log")
    yield server
    server.stop()


def test_retry_all_from_ruby_runs_our_failed_jobs_again(
    start_worker: StartWorker, enqueue_to: str, store: redis.Redis, ruby: RubyConsole
) -> None:
    store.set(jobs.BROKEN, "1")
    start_worker("-q", "reports", "-c", "2")
    jids = [jobs.FlakyReportJob.perform_later(n).jid for n in range(3)]
    wait_for(lambda: store.zcard("retry") == 3, message="three failures")
    assert ruby.run("Sidekiq::RetrySet.new.map(&:jid).sort") == sorted(jids)

    store.delete(jobs.BROKEN)
    ruby.run("Sidekiq::RetrySet.new.retry_all")

    # The retries are an hour away: only retry_all can have run them again.
    def second_runs() -> bool:
        runs = [run["jid"] for run in jobs.runs(store)]
        return all(runs.count(jid) == 2 for jid in jids)

    wait_for(second_runs, message="each failed job run a second time")
    assert store.zcard("retry") == 0
    assert store.zcard("dead") == 0
    assert ruby.run("Sidekiq::Stats.new.retry_size") == 0


def quiet_then_stop(
    worker: WorkerProcess,
    store: redis.Redis,
    ruby: RubyConsole,
    queue: str,
    quiet: Callable[[str], None],
    stop: Callable[[str], None],
) -> None:
    """Quiet `worker` with `quiet`, prove it no longer fetches, then stop it with `stop`."""
    identity = wait_for(lambda: identity_of(store, worker.pid), message="heartbeat")
    quiet(identity)

    wait_for(
        lambda: ruby.run(f"InteropSnapshots.process('{identity}')&.stopping?"),
        message="Sidekiq to see our process as quiet",
    )
    job = jobs.ProcessReportJob.set(queue=queue).perform_later(1)
    # Two more heartbeats: the quiet process is alive and still leaves the job alone.
    beat = float(store.hget(identity, "beat") or 0)
    wait_for(lambda: float(store.hget(identity, "beat") or 0) > beat + 0.3, message="beats")
    assert worker.running()
    assert job.jid in str(store.lindex(f"queue:{queue}", 0))

    stop(identity)
    assert worker.wait(15) == 0
    assert identity not in store.smembers("processes")
    assert ruby.run(f"InteropSnapshots.process('{identity}')") is None
    assert store.llen(f"queue:{queue}") == 1  # stopping lost nothing


def test_quiet_and_stop_from_sidekiqs_api_reach_our_process(
    start_worker: StartWorker, enqueue_to: str, store: redis.Redis, ruby: RubyConsole
) -> None:
    worker = start_worker("-q", "api-signals", "-c", "1")

    quiet_then_stop(
        worker,
        store,
        ruby,
        "api-signals",
        quiet=lambda identity: ruby.run(f"InteropSnapshots.process('{identity}').quiet!"),
        stop=lambda identity: ruby.run(f"InteropSnapshots.process('{identity}').stop!"),
    )


def test_quiet_and_stop_buttons_of_sidekiqs_web_ui_reach_our_process(
    start_worker: StartWorker,
    enqueue_to: str,
    store: redis.Redis,
    ruby: RubyConsole,
    web: SidekiqWeb,
) -> None:
    worker = start_worker("-q", "web-signals", "-c", "1")

    def press(button: str) -> Callable[[str], None]:
        def send(identity: str) -> None:
            page = web.post_form("/busy", {"identity": identity, button: "1"}, token_from="/busy")
            assert page.status == 200 and page.url.endswith("/busy"), page.body[:500]

        return send

    quiet_then_stop(worker, store, ruby, "web-signals", quiet=press("quiet"), stop=press("stop"))


def test_dump_threads_from_sidekiqs_api_reaches_our_process(
    start_worker: StartWorker, store: redis.Redis, ruby: RubyConsole
) -> None:
    worker = start_worker("-q", "ttin", "-c", "1")
    identity = wait_for(lambda: identity_of(store, worker.pid), message="heartbeat")

    ruby.run(f"InteropSnapshots.process('{identity}').dump_threads")

    wait_for(lambda: "thread sidequest-heartbeat" in worker.log(), message="a thread dump")
    assert worker.running()


def test_retry_all_button_of_the_morgue_runs_our_dead_jobs_again(
    start_worker: StartWorker, enqueue_to: str, store: redis.Redis, web: SidekiqWeb
) -> None:
    start_worker("-q", "morgue", "-c", "1")
    jid = jobs.DoomedReportJob.set(queue="morgue").perform_later(7).jid

    def dead() -> bool:
        return any(jid in member for member in store.zrange("dead", 0, -1))

    wait_for(dead, message="the dead job")

    page = web.post_form("/morgue/all/retry", {}, token_from="/morgue")
    assert page.status == 200 and page.url.endswith("/morgue")

    # It fails again (retry 0), so it is back in the dead set after a second run.
    wait_for(
        lambda: [run["jid"] for run in jobs.runs(store)].count(jid) == 2,
        message="a second run of the dead job",
    )
    wait_for(dead, message="the job dead again")


def test_add_to_queue_from_sidekiqs_scheduled_set_runs_our_job_now(
    start_worker: StartWorker, enqueue_to: str, store: redis.Redis, ruby: RubyConsole
) -> None:
    start_worker("-q", "later", "-c", "1")
    job = jobs.ProcessReportJob.set(queue="later", wait=3600).perform_later(8)

    ruby.run(f"Sidekiq::ScheduledSet.new.find_job('{job.jid}').add_to_queue")

    run = wait_for(
        lambda: next((r for r in jobs.runs(store) if r["jid"] == job.jid), None),
        message="the scheduled job run now",
    )
    assert run["args"] == [8]
    assert store.zcard("schedule") == 0
