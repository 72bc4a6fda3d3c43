"""Job progress through a real worker: written while the job runs (throttled), the last
value written when it ends, and kept with a TTL afterwards."""

from __future__ import annotations

import json
from pathlib import Path

import redis
from click.testing import CliRunner

from sidequest import keys
from sidequest.adapter import using
from sidequest.api import progress
from sidequest.cli import main
from sidequest.client import RedisAdapter
from sidequest.progress_recorder import PROGRESS_TTL
from tests.integration.sidequest.progress_jobs import CountingJob, FailingProgressJob
from tests.support.polling import wait_for
from tests.support.worker_process import WorkerProcess


def test_a_running_job_reports_progress_and_it_stays_after_the_end(
    redis_url: str, redis_client: redis.Redis, tmp_path: Path
) -> None:
    client = redis.Redis.from_url(redis_url)
    gate = tmp_path / "gate"
    worker = WorkerProcess(
        redis_url,
        tmp_path / "worker.log",
        args=("-q", "progress", "-c", "2"),
        requires=("tests.integration.sidequest.progress_jobs",),
    ).start()
    try:
        with using(RedisAdapter(client)):
            counting = CountingJob.perform_later(1000, str(gate))
            failing = FailingProgressJob.perform_later()

        # While it waits at the gate, its last step is visible (the throttle holds it
        # back at most until the next heartbeat).
        running = wait_for(
            lambda: (found := progress(counting.jid, client)) and found.done == 1000 and found,
            timeout=20,
            message="the progress of the running job",
        )
        assert running.total == 1000
        assert running.percent == 100
        assert running.message == "step 1000"
        assert running.finished_at is None
        gate.touch()
        ended = wait_for(
            lambda: (found := progress(counting.jid, client)) and found.finished_at and found,
            timeout=20,
            message="the end of the job",
        )
        assert ended.outcome == "succeeded"
        assert 0 < redis_client.ttl(keys.progress(counting.jid)) <= PROGRESS_TTL
        dead = wait_for(
            lambda: (found := progress(failing.jid, client)) and found.finished_at and found,
            timeout=20,
            message="the failed job's progress",
        )
        assert (dead.done, dead.total, dead.outcome) == (1, 4, "dead")
    finally:
        worker.stop()
        client.close()
    assert set(redis_client.keys("sidequest:progress:*")) == {
        keys.progress(counting.jid),
        keys.progress(failing.jid),
    }


def test_the_progress_command_prints_what_a_job_reported(
    redis_url: str, redis_client: redis.Redis
) -> None:
    redis_client.hset(
        keys.progress("abc"),
        mapping={"done": 3, "total": 12, "message": "third", "updated_at": 1.0},
    )
    runner = CliRunner(env={"REDIS_URL": redis_url})

    shown = runner.invoke(main, ["progress", "abc"])
    as_json = runner.invoke(main, ["progress", "abc", "--json"])
    missing = runner.invoke(main, ["progress", "nothing"])

    assert shown.exit_code == 0, shown.output
    assert shown.output.splitlines() == ["3 of 12 (25%)", "third"]
    assert json.loads(as_json.output)["percent"] == 25
    assert missing.exit_code == 1
    assert "reported no progress" in missing.output
