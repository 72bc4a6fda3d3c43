"""Which job classes a real worker knows (what `-r` loaded, said at start), and what it
does with a job of a class it does not know: retry it, as Sidekiq does (issue 22)."""

from __future__ import annotations

import json
import re
import signal
import time
from collections.abc import Callable
from pathlib import Path

import redis

from sidequest import Job, payload
from tests.integration.sidequest import fixture_jobs, release_jobs
from tests.integration.sidequest.conftest import FIXTURE_JOBS
from tests.support.polling import wait_for
from tests.support.worker_process import WorkerProcess

Start = Callable[..., WorkerProcess]
RELEASE_JOBS = "tests.integration.sidequest.release_jobs"

# A job module written into a test's folder: it records its jid in `test:runs`.
JOB_MODULE = """import os

import redis

from sidequest import Job


class {name}(Job):
    def perform(self) -> None:
        redis.Redis.from_url(os.environ["TEST_REDIS_URL"]).rpush("test:runs", self.jid)
"""


def write_job(path: Path, name: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(JOB_MODULE.format(name=name))


def push(client: redis.Redis, job_class: str) -> str:
    job = payload.build(job_class, [])
    job["enqueued_at"] = time.time()
    client.lpush("queue:default", payload.encode(job))
    return str(job["jid"])


def fixture_class_names() -> list[str]:
    return sorted(
        value.job_name
        for value in vars(fixture_jobs).values()
        if isinstance(value, type) and issubclass(value, Job) and value.__module__ == FIXTURE_JOBS
    )


def test_a_job_of_a_class_the_worker_did_not_load_is_retried_until_a_worker_that_loads_it_runs_it(
    enqueue_to: str, redis_client: redis.Redis, start_worker: Start
) -> None:
    # A rolling deploy: the job's class exists only in the new release, and a worker of
    # the release before fetches it first.
    job = release_jobs.NewReleaseJob.perform_later(1)
    old = start_worker(enqueue_to)  # loads fixture_jobs only

    [member] = wait_for(lambda: redis_client.zrange("retry", 0, -1), message="the job in retry")
    stored = json.loads(member)
    assert (stored["jid"], stored["class"], stored["retry_count"]) == (job.jid, "NewReleaseJob", 0)
    assert stored["error_class"] == "sidequest.errors.UnknownJobError"
    names = fixture_class_names()
    assert len(names) > 12
    assert stored["error_message"] == (
        "no job class named 'NewReleaseJob' is registered in this worker: it loaded "
        f"-r {FIXTURE_JOBS} and knows {len(names)} job classes: {', '.join(names[:12])} "
        f"and {len(names) - 12} more; load the module that defines it with "
        "`sidequest worker -r MODULE`"
    )
    assert redis_client.zcard("dead") == 0
    line = old.line_with(f"jid={job.jid}", " retried ")
    assert re.search(
        r" retried duration=\S+ next attempt in \d+s at \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC "
        r"error=UnknownJobError: no job class named 'NewReleaseJob'",
        line,
    ), line

    # The old release's worker stops; one of the new release, which loads the module, starts.
    old.signal(signal.SIGTERM)
    assert old.wait(30) == 0
    new = start_worker(enqueue_to, requires=(FIXTURE_JOBS, RELEASE_JOBS))
    # Sidekiq's first retry waits 15-24 s: make it due now, and the scheduler promotes it.
    redis_client.zadd("retry", {member: time.time()}, xx=True)

    wait_for(
        lambda: redis_client.lrange("test:runs", 0, -1) == [job.jid],
        message="the job run by the new release",
    )
    new.line_with(f"jid={job.jid}", " succeeded ")
    wait_for(lambda: redis_client.get("stat:processed") == "2", message="its success counted")
    assert redis_client.zcard("retry") == 0
    assert redis_client.zcard("dead") == 0


def test_a_job_of_an_unknown_class_dies_when_its_retries_run_out(
    enqueue_to: str, redis_client: redis.Redis, start_worker: Start
) -> None:
    job = release_jobs.NewReleaseJob.set(retry=1).perform_later(2)
    worker = start_worker(enqueue_to)
    [member] = wait_for(lambda: redis_client.zrange("retry", 0, -1), message="the first failure")
    redis_client.zadd("retry", {member: time.time()}, xx=True)

    [dead] = wait_for(lambda: redis_client.zrange("dead", 0, -1), message="the job dead")
    stored = json.loads(dead)
    assert (stored["jid"], stored["retry_count"]) == (job.jid, 1)
    assert stored["error_class"] == "sidequest.errors.UnknownJobError"
    assert redis_client.zcard("retry") == 0
    worker.line_with(f"jid={job.jid}", " dead ", "error=UnknownJobError: ")


def test_a_worker_given_a_folder_without_init_loads_each_of_its_modules(
    redis_url: str, redis_client: redis.Redis, start_worker: Start, tmp_path: Path
) -> None:
    # Issue 22: `-r jobs` with such a folder imported nothing, and every job died.
    write_job(tmp_path / "jobs" / "hello.py", "HelloJob")
    write_job(tmp_path / "jobs" / "mail" / "welcome.py", "WelcomeJob")
    folder = str(tmp_path / "jobs")
    worker = start_worker(redis_url, requires=(folder,))

    line = worker.line_with(" knows ")
    assert line.endswith(
        f"loaded -r {folder} (jobs.hello, jobs.mail.welcome); knows 2 job classes: "
        "HelloJob, WelcomeJob"
    )
    jids = [push(redis_client, "HelloJob"), push(redis_client, "jobs.mail.welcome.WelcomeJob")]
    wait_for(
        lambda: sorted(redis_client.lrange("test:runs", 0, -1)) == sorted(jids),
        message="both jobs run",
    )


def test_a_worker_given_a_file_of_a_package_loads_it_under_its_package_path(
    redis_url: str, redis_client: redis.Redis, start_worker: Start, tmp_path: Path
) -> None:
    # Issue 22: `-r myapp/jobs.py` loaded a top-level `jobs`, and payloads naming
    # `myapp.jobs.HelloJob` were buried as unknown.
    (tmp_path / "myapp").mkdir()
    (tmp_path / "myapp" / "__init__.py").write_text("")
    write_job(tmp_path / "myapp" / "jobs.py", "HelloJob")
    (tmp_path / "myapp" / "wiring.py").write_text("import myapp.jobs\n")
    target = str(tmp_path / "myapp" / "jobs.py")
    worker = start_worker(redis_url, requires=(target, str(tmp_path / "myapp" / "wiring.py")))

    line = worker.line_with(" knows ")
    assert f"loaded -r {target} (myapp.jobs), " in line
    assert line.endswith("knows 1 job class: HelloJob")
    jids = [push(redis_client, "myapp.jobs.HelloJob"), push(redis_client, "HelloJob")]
    wait_for(
        lambda: sorted(redis_client.lrange("test:runs", 0, -1)) == sorted(jids),
        message="both jobs run",
    )
    assert "defined twice" not in worker.log() and "job name" not in worker.log()


def test_a_worker_that_knows_no_job_class_warns_at_start_saying_what_to_load(
    redis_url: str, start_worker: Start, tmp_path: Path
) -> None:
    # What `sidequest generate job` writes: a package with an empty __init__.py.
    (tmp_path / "jobs").mkdir()
    (tmp_path / "jobs" / "__init__.py").write_text("")
    write_job(tmp_path / "jobs" / "send_invoice_job.py", "SendInvoiceJob")
    folder = str(tmp_path / "jobs")
    worker = start_worker(redis_url, requires=(folder,))

    line = worker.line_with(" WARNING ", "knows no job class")
    assert line.endswith(
        f"this worker knows no job class (it loaded -r {folder} (jobs)): every job it fetches "
        "fails as unknown and is retried. The package jobs imports none of its modules "
        "(jobs.send_invoice_job): import them in its __init__.py, or pass "
        "-r jobs.send_invoice_job"
    )
    assert worker.running()
