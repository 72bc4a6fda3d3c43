"""The `sidequest` command, run as a person runs it: a subprocess against real Redis."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import redis

from sidequest import api, keys
from tests.support.polling import wait_for
from tests.support.ports import free_port
from tests.support.worker_process import WorkerProcess

ROOT = Path(__file__).resolve().parents[3]
HEX24 = re.compile(r"[0-9a-f]{24}")
EX_USAGE = 2
EX_CONFIG = 78


def sidequest(
    *args: str, redis_url: str | None = None, cwd: Path = ROOT, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run `python -m sidequest ARGS`; REDIS_URL never falls back to a real server's default."""
    environment = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith("SIDEQUEST_") and name != "REDIS_URL"
    }
    environment["PYTHONPATH"] = str(ROOT)
    environment["REDIS_URL"] = redis_url or f"redis://127.0.0.1:{free_port()}/0"
    environment.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "sidequest", *args],
        cwd=cwd,
        env=environment,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def queued(client: redis.Redis, queue: str) -> list[dict[str, Any]]:
    return [json.loads(raw) for raw in client.lrange(keys.queue(queue), 0, -1)]


# A line of the worker's text log: "2026-12-02 07:11:49,976 pid=27033 tid=MainThread INFO ..."
LOG_LINE = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d+ pid=\d+ ")


def assert_one_line_error(result: subprocess.CompletedProcess[str], status: int) -> str:
    """The error line; only log lines (such as the Redis a worker chose) may precede it."""
    assert result.returncode == status, result.stderr
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.strip().splitlines() if not LOG_LINE.match(line)]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: "), result.stderr
    return lines[0]


# -- enqueue ---------------------------------------------------------------------------


def test_enqueue_prints_the_jid_and_writes_sidekiqs_payload(
    redis_url: str, redis_client: redis.Redis
) -> None:
    before = time.time()

    result = sidequest(
        "enqueue", "ProcessReportJob", '[1, "a"]', "--queue", "q", redis_url=redis_url
    )

    assert result.returncode == 0, result.stderr
    jid = result.stdout.strip()
    assert HEX24.fullmatch(jid)
    [job] = queued(redis_client, "q")
    assert job["jid"] == jid
    assert job["class"] == "ProcessReportJob"
    assert job["args"] == [1, "a"]
    assert job["queue"] == "q"
    assert job["retry"] is True
    assert isinstance(job["created_at"], float) and isinstance(job["enqueued_at"], float)
    assert before <= job["enqueued_at"] <= time.time()
    assert redis_client.smembers(keys.QUEUES) == {"q"}


def test_enqueue_without_arguments_uses_an_empty_array_and_the_default_queue(
    redis_url: str, redis_client: redis.Redis
) -> None:
    result = sidequest("enqueue", "Billing::InvoiceJob", redis_url=redis_url)

    assert result.returncode == 0, result.stderr
    [job] = queued(redis_client, "default")
    assert (job["class"], job["args"]) == ("Billing::InvoiceJob", [])


def test_enqueue_in_seconds_schedules_the_job(redis_url: str, redis_client: redis.Redis) -> None:
    result = sidequest("enqueue", "ReportJob", "[7]", "--in", "60", redis_url=redis_url)

    assert result.returncode == 0, result.stderr
    [(member, score)] = redis_client.zrange(keys.SCHEDULE, 0, -1, withscores=True)
    job = json.loads(member)
    assert job["jid"] == result.stdout.strip()
    assert "enqueued_at" not in job
    assert abs(float(score) - (time.time() + 60)) < 5
    assert not redis_client.exists(keys.queue("default"))


@pytest.mark.parametrize(("option", "stored"), [("false", False), ("FALSE", False), ("3", 3)])
def test_enqueue_retry_option(
    redis_url: str, redis_client: redis.Redis, option: str, stored: bool | int
) -> None:
    result = sidequest("enqueue", "ReportJob", "[1]", "--retry", option, redis_url=redis_url)

    assert result.returncode == 0, result.stderr
    [job] = queued(redis_client, "default")
    assert job["retry"] == stored
    assert type(job["retry"]) is type(stored)


@pytest.mark.parametrize(
    ("json_args", "complaint"),
    [
        ("[1,", "not valid JSON"),
        ("{'a': 1}", "not valid JSON"),
        ('{"a": 1}', "must be a JSON array"),
        ("42", "must be a JSON array"),
        ('"text"', "must be a JSON array"),
        ("[NaN]", "NaN or infinity"),
        ('[{"a": [1e400]}]', "NaN or infinity"),
    ],
)
def test_enqueue_refuses_arguments_that_are_not_a_json_array(
    redis_url: str, redis_client: redis.Redis, json_args: str, complaint: str
) -> None:
    result = sidequest("enqueue", "ReportJob", json_args, redis_url=redis_url)

    assert result.returncode == EX_USAGE
    assert "JSON_ARGS" in result.stderr
    assert complaint in result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout == ""
    assert redis_client.dbsize() == 0


def test_enqueue_refuses_a_retry_that_is_no_boolean_or_number(
    redis_url: str, redis_client: redis.Redis
) -> None:
    result = sidequest("enqueue", "ReportJob", "[]", "--retry", "maybe", redis_url=redis_url)

    assert result.returncode == EX_USAGE
    assert "--retry" in result.stderr
    assert redis_client.dbsize() == 0


def test_enqueue_with_redis_unreachable_fails_with_a_message() -> None:
    port = free_port()

    result = sidequest("enqueue", "ReportJob", "[]", redis_url=f"redis://127.0.0.1:{port}/0")

    line = assert_one_line_error(result, 1)
    assert line.startswith("error: could not enqueue ReportJob")
    assert f"127.0.0.1:{port}" in line
    assert result.stdout == ""


# -- enqueue: checks with -r, warnings without ------------------------------------------

CLI_JOBS = """\
from sidequest import Job


class CliReportJob(Job):
    queue = "reports"
    retry = 2

    def perform(self, report_id: int, *, format: str = "pdf") -> None:
        pass
"""


@pytest.fixture
def job_file(tmp_path: Path) -> Path:
    (tmp_path / "cli_jobs.py").write_text(CLI_JOBS)
    return tmp_path


def enqueue_with_r(
    redis_url: str, job_file: Path, *arguments: str
) -> subprocess.CompletedProcess[str]:
    """`sidequest enqueue -r cli_jobs.py ARGUMENTS...`, which must succeed."""
    result = sidequest(
        "enqueue", "-r", "cli_jobs.py", *arguments, redis_url=redis_url, cwd=job_file
    )
    assert result.returncode == 0, result.stderr
    return result


def test_enqueue_with_r_enqueues_as_the_classs_perform_later_does(
    redis_url: str, redis_client: redis.Redis, job_file: Path
) -> None:
    result = enqueue_with_r(
        redis_url, job_file, "CliReportJob", "[7]", "--kwargs", '{"format": "csv"}'
    )

    [job] = queued(redis_client, "reports")
    assert job["jid"] == result.stdout.strip()
    assert (job["class"], job["retry"]) == ("CliReportJob", 2)
    assert job["args"] == [7, {"format": "csv", "_aj_ruby2_keywords": ["format"]}]


def test_enqueue_with_r_writes_the_job_name_when_given_the_dotted_path(
    redis_url: str, redis_client: redis.Redis, job_file: Path
) -> None:
    enqueue_with_r(redis_url, job_file, "cli_jobs.CliReportJob", "[7]", "--queue", "q")

    [job] = queued(redis_client, "q")
    assert job["class"] == "CliReportJob"


@pytest.mark.parametrize(
    ("arguments", "hint", "complaint"),
    [
        (("CliRepotJob", "[7]"), "JOB_CLASS", "no job class named 'CliRepotJob' in cli_jobs.py"),
        (("CliReportJob", "[]"), "JSON_ARGS", "takes 1 positional argument(s), got 0"),
        (("CliReportJob", "[7, 8]"), "JSON_ARGS", "got 2"),
        (("CliReportJob", "[7]", "--kwargs", '{"colour": 1}'), "JSON_ARGS", "'colour'"),
        (("CliReportJob", "[7]", "--kwargs", "[1]"), "--kwargs", "must be a JSON object"),
    ],
    ids=["unknown-class", "too-few", "too-many", "unknown-keyword", "kwargs-not-an-object"],
)
def test_enqueue_with_r_refuses_an_unknown_class_or_arguments_perform_would_not_take(
    redis_url: str,
    redis_client: redis.Redis,
    job_file: Path,
    arguments: tuple[str, ...],
    hint: str,
    complaint: str,
) -> None:
    result = sidequest(
        "enqueue", "-r", "cli_jobs.py", *arguments, redis_url=redis_url, cwd=job_file
    )

    assert result.returncode == EX_USAGE, result.stderr
    assert hint in result.stderr and complaint in result.stderr
    assert "Traceback" not in result.stderr
    assert redis_client.dbsize() == 0
    if hint == "JOB_CLASS":
        assert "registered: CliReportJob, cli_jobs.CliReportJob" in result.stderr


def test_enqueue_with_r_uses_the_redis_the_modules_configure_when_no_setting_names_one(
    redis_url: str, redis_client: redis.Redis, job_file: Path
) -> None:
    # As a worker with the same -r modules would (redis_source.py).
    configured = f"import sidequest\nsidequest.configure({redis_url!r})\n"
    (job_file / "cli_jobs.py").write_text(configured + CLI_JOBS)

    result = sidequest(
        "enqueue", "-r", "cli_jobs.py", "CliReportJob", "[7]", cwd=job_file, env={"REDIS_URL": ""}
    )

    assert result.returncode == 0, result.stderr
    assert queued(redis_client, "reports")[0]["jid"] == result.stdout.strip()


def test_enqueue_warns_when_no_worker_process_is_running(
    redis_url: str, redis_client: redis.Redis
) -> None:
    result = sidequest("enqueue", "ReportJob", "[1]", redis_url=redis_url)

    assert result.returncode == 0, result.stderr
    assert result.stderr.startswith("warning: no worker process is running")
    assert queued(redis_client, "default")[0]["jid"] == result.stdout.strip()


def test_a_worker_lists_the_job_classes_it_registered_in_its_process_entry(
    redis_url: str, redis_client: redis.Redis, start_worker: Callable[..., WorkerProcess]
) -> None:
    start_worker(redis_url)

    [process] = wait_for(
        lambda: [p for p in api.ProcessSet(redis_client).all() if p.job_classes],
        message="the worker's class list",
    )
    assert process.job_classes is not None
    assert {"RecordJob", "tests.integration.sidequest.fixture_jobs.RecordJob"} <= set(
        process.job_classes
    )
    # One field beside those of Sidekiq's process hash, which Sidekiq reads by name.
    assert set(redis_client.hkeys(process.identity)) == {
        "info",
        "busy",
        "beat",
        "quiet",
        "rss",
        "rtt_us",
        "concurrency",
        "job_classes",
    }


def test_enqueue_warns_about_a_queue_or_a_class_no_live_worker_has(
    redis_url: str, redis_client: redis.Redis, start_worker: Callable[..., WorkerProcess]
) -> None:
    start_worker(redis_url)
    wait_for(
        lambda: any(p.job_classes for p in api.ProcessSet(redis_client).all()),
        message="the worker's class list",
    )

    known = sidequest("enqueue", "RecordJob", "[1]", redis_url=redis_url)
    wrong_queue = sidequest(
        "enqueue", "RecordJob", "[1]", "--queue", "critical:3", redis_url=redis_url
    )
    wrong_class = sidequest("enqueue", "RecrodJob", "[1]", redis_url=redis_url)

    for result in (known, wrong_queue, wrong_class):
        assert result.returncode == 0, result.stderr
        assert HEX24.fullmatch(result.stdout.strip())
    assert known.stderr == ""
    assert wrong_queue.stderr.splitlines() == [
        "warning: no live worker process watches queue 'critical:3' (they watch: default): "
        "the job waits there until one does"
    ]
    [line] = wrong_class.stderr.splitlines()
    assert line.startswith(
        "warning: no live worker process watching queue 'default' has registered a job "
        "class named 'RecrodJob'"
    )


# -- stats -----------------------------------------------------------------------------


@pytest.fixture
def seeded(redis_client: redis.Redis) -> redis.Redis:
    now = time.time()
    redis_client.set(keys.STAT_PROCESSED, 1042)
    redis_client.set(keys.STAT_FAILED, 17)
    redis_client.sadd(keys.QUEUES, "default", "mailers")
    for n in range(3):
        redis_client.lpush(
            keys.queue("default"),
            json.dumps({"class": "A", "args": [n], "jid": f"{n}", "enqueued_at": now - 20}),
        )
    redis_client.lpush(keys.queue("mailers"), json.dumps({"class": "M", "args": []}))
    redis_client.zadd(keys.SCHEDULE, {"s1": now + 60})
    redis_client.zadd(keys.RETRY, {"r1": now, "r2": now})
    redis_client.zadd(keys.DEAD, {"d1": now, "d2": now, "d3": now, "d4": now})
    return redis_client


def test_stats_prints_the_numbers_a_person_looks_at_first(
    redis_url: str, seeded: redis.Redis
) -> None:
    result = sidequest("stats", redis_url=redis_url)

    assert result.returncode == 0, result.stderr
    rows = {}
    for line in result.stdout.splitlines()[:9]:
        label, value = line.rsplit(maxsplit=1)
        rows[label.strip()] = value
    assert rows["Processed"] == "1042"
    assert rows["Failed"] == "17"
    assert rows["Enqueued"] == "4"
    assert rows["Scheduled"] == "1"
    assert rows["Retries"] == "2"
    assert rows["Dead"] == "4"
    assert rows["Busy"] == "0"
    assert float(rows["Default latency"].rstrip("s")) >= 20
    queue_rows = {
        line.split()[0]: line.split()[1:] for line in result.stdout.splitlines()[11:] if line
    }
    assert queue_rows["default"][0] == "3"
    assert float(queue_rows["default"][1].rstrip("s")) >= 20
    assert queue_rows["mailers"][0] == "1"


def test_stats_json_reports_sizes_retries_dead_and_processed(
    redis_url: str, seeded: redis.Redis
) -> None:
    result = sidequest("stats", "--json", redis_url=redis_url)

    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["processed"] == 1042
    assert document["failed"] == 17
    assert document["enqueued"] == 4
    assert document["scheduled"] == 1
    assert document["retries"] == 2
    assert document["dead"] == 4
    assert document["processes"] == 0
    assert document["queues"] == {"default": 3, "mailers": 1}
    assert set(document["latencies"]) == {"default", "mailers"}
    assert document["latencies"]["default"] >= 20
    assert document["default_latency"] >= 20


def test_stats_of_an_empty_redis_is_all_zero(redis_url: str) -> None:
    result = sidequest("stats", "--json", redis_url=redis_url)

    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["processed"] == document["enqueued"] == document["dead"] == 0
    assert document["queues"] == {}


def test_stats_with_redis_unreachable_fails_with_a_message() -> None:
    port = free_port()

    result = sidequest("stats", redis_url=f"redis://127.0.0.1:{port}/0")

    line = assert_one_line_error(result, 1)
    assert f"cannot read redis://127.0.0.1:{port}/0" in line


# -- generate --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("extra", "job_file", "test_file"),
    [
        ((), "jobs/process_report_job.py", "tests/test_process_report_job.py"),
        (
            ("--path", "app/jobs", "--test-path", "spec", "--queue", "reports"),
            "app/jobs/process_report_job.py",
            "spec/test_process_report_job.py",
        ),
    ],
    ids=["defaults", "paths-and-queue"],
)
def test_generate_job_writes_a_module_and_a_test_that_passes(
    tmp_path: Path, extra: tuple[str, ...], job_file: str, test_file: str
) -> None:
    result = sidequest("generate", "job", "ProcessReport", *extra, cwd=tmp_path)

    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [f"created {job_file}", f"created {test_file}"]
    source = (tmp_path / job_file).read_text()
    assert "class ProcessReportJob(Job):" in source
    assert "def perform(self, record_id: int) -> None:" in source
    queue = "reports" if "--queue" in extra else "default"
    assert f'queue = "{queue}"' in source

    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", test_file],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert "2 passed" in run.stdout


def test_generate_refuses_to_overwrite_without_force(tmp_path: Path) -> None:
    assert sidequest("generate", "job", "cleanup", cwd=tmp_path).returncode == 0
    (tmp_path / "jobs" / "cleanup_job.py").write_text("# edited by hand\n")

    again = sidequest("generate", "job", "cleanup", cwd=tmp_path)

    line = assert_one_line_error(again, EX_CONFIG)
    assert "exists" in line and "--force" in line
    assert (tmp_path / "jobs" / "cleanup_job.py").read_text() == "# edited by hand\n"
    forced = sidequest("generate", "job", "cleanup", "--force", cwd=tmp_path)
    assert forced.returncode == 0, forced.stderr
    assert "class CleanupJob(Job):" in (tmp_path / "jobs" / "cleanup_job.py").read_text()


@pytest.mark.parametrize("name", ["2fast", "bad name", "job"])
def test_generate_refuses_a_name_that_is_no_class_name(tmp_path: Path, name: str) -> None:
    result = sidequest("generate", "job", name, cwd=tmp_path)

    assert_one_line_error(result, EX_CONFIG)
    assert not list(tmp_path.iterdir())


# -- worker configuration errors -------------------------------------------------------


@pytest.mark.parametrize(
    ("config", "complaint"),
    [
        (":concurency: 5\n", "unknown setting ':concurency'"),
        (":concurrency: 5\n:queues:\n  - default\n   - [critical: 3\n", "not valid YAML"),
        (":concurrency: [5\n", "not valid YAML"),
        ("\t:concurrency: 5\n", "not valid YAML"),
        (":concurrency: lots\n", "setting concurrency"),
        (":concurrency: 0\n", "concurrency must be at least 1"),
        (":queues: [[default, heavy]]\n", "weight must be a whole number"),
        ("- default\n- mailers\n", "must hold a mapping"),
    ],
    ids=[
        "unknown-key",
        "bad-yaml",
        "unclosed-flow",
        "tab",
        "not-a-number",
        "zero-threads",
        "bad-weight",
        "not-a-mapping",
    ],
)
def test_worker_with_a_bad_config_file_exits_78_with_one_error_line(
    redis_url: str, tmp_path: Path, config: str, complaint: str
) -> None:
    path = tmp_path / "sidekiq.yml"
    path.write_text(config)

    result = sidequest("worker", "-C", str(path), redis_url=redis_url)

    line = assert_one_line_error(result, EX_CONFIG)
    assert complaint in line
    if "YAML" in complaint:
        assert re.search(r"at line \d+, column \d+$", line)
    assert result.stdout == ""


def test_worker_with_a_missing_config_file_exits_78(redis_url: str, tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.yml"

    result = sidequest("worker", "-C", str(missing), redis_url=redis_url)

    line = assert_one_line_error(result, EX_CONFIG)
    assert f"cannot read config file {missing}" in line


@pytest.mark.parametrize(
    "command", [("stats",), ("enqueue", "SomeJob"), ("web",), ("periodic", "list")]
)
def test_a_bad_redis_url_is_named_by_where_it_came_from(command: tuple[str, ...]) -> None:
    from_flag = sidequest(*command, "--redis-url", "redis://:secret@h:port/0")
    from_environment = sidequest(*command, env={"REDIS_URL": "http://:secret@h:6379/0"})

    line = assert_one_line_error(from_flag, EX_CONFIG)
    assert line.startswith("error: --redis-url is not a valid URL") and "secret" not in line
    line = assert_one_line_error(from_environment, EX_CONFIG)
    assert line.startswith("error: REDIS_URL must start with redis://") and "secret" not in line


@pytest.mark.parametrize("command", ["worker", "stats", "enqueue", "web"])
def test_a_redis_url_with_a_port_that_is_no_number_is_one_line_and_status_78(
    command: str,
) -> None:
    # The URL of issue 22's report, which once ended in a traceback and status 1.
    arguments = [command, "SomeJob"] if command == "enqueue" else [command]

    result = sidequest(*arguments, "--redis-url", "redis://127.0.0.1:notaport/0")

    line = assert_one_line_error(result, EX_CONFIG)
    assert line.startswith("error: --redis-url is not a valid URL")
    assert "notaport" in line


@pytest.mark.parametrize(
    "command", ["worker", "stats", "enqueue", "web", "periodic list", "periodic run"]
)
def test_the_help_of_redis_url_names_the_redis_url_variable(command: str) -> None:
    result = sidequest(*command.split(), "--help")

    assert result.returncode == 0, result.stderr
    option = result.stdout.split("--redis-url", 1)[1].split("\n  -", 1)[0]
    assert "REDIS_URL" in option, option


@pytest.mark.parametrize("url", ["http://127.0.0.1:6380/0", "localhost:6380", "redis://:secret@/0"])
def test_worker_with_a_bad_redis_url_exits_78_without_showing_the_password(url: str) -> None:
    result = sidequest("worker", env={"REDIS_URL": url})

    line = assert_one_line_error(result, EX_CONFIG)
    assert "REDIS_URL" in line
    assert "secret" not in line


@pytest.mark.parametrize(
    ("target", "complaint"),
    [
        ("no.such.module", "cannot require no.such.module"),
        ("missing_jobs.py", "cannot require missing_jobs.py: no such file"),
    ],
)
def test_worker_requiring_a_missing_module_exits_78(
    redis_url: str, redis_client: redis.Redis, tmp_path: Path, target: str, complaint: str
) -> None:
    result = sidequest("worker", "-r", target, redis_url=redis_url, cwd=tmp_path)

    line = assert_one_line_error(result, EX_CONFIG)
    assert complaint in line
    assert not redis_client.smembers(keys.PROCESSES)


def test_a_worker_stopped_while_it_waits_for_redis_exits_cleanly(
    start_worker: Callable[..., WorkerProcess],
) -> None:
    # Nothing listens there: the worker keeps waiting for Redis (up to 30 s) at start.
    worker = start_worker(f"redis://127.0.0.1:{free_port()}/0")
    wait_for(
        lambda: "waiting for Redis" in worker.log_path.read_text(),
        timeout=20,
        message="the worker to wait for Redis",
    )

    worker.signal(signal.SIGTERM)

    # A stop request at boot is a normal stop (status 0), not death by signal (-15).
    assert worker.wait(10) == 0


def _allowed_cpus_of_every_thread(pid: int) -> set[str]:
    allowed = set()
    for task in Path(f"/proc/{pid}/task").iterdir():
        for line in (task / "status").read_text().splitlines():
            if line.startswith("Cpus_allowed_list:"):
                allowed.add(line.split(":", 1)[1].strip())
    return allowed


def test_a_worker_with_cpus_runs_every_thread_on_those_cpus(
    redis_url: str, redis_client: redis.Redis, start_worker: Callable[..., WorkerProcess]
) -> None:
    cpu = str(min(os.sched_getaffinity(0)))
    worker = start_worker(redis_url, "--cpus", cpu)
    wait_for(lambda: redis_client.smembers(keys.PROCESSES), message="the worker's heartbeat")

    # Processors, fetcher, waiters, heartbeat: all of them started, all of them pinned.
    assert len(list(Path(f"/proc/{worker.pid}/task").iterdir())) > 5
    assert _allowed_cpus_of_every_thread(worker.pid) == {cpu}


def test_a_worker_refuses_cpus_it_may_not_use_naming_those_it_may(redis_url: str) -> None:
    result = sidequest("worker", "--cpus", "4095", redis_url=redis_url)

    line = assert_one_line_error(result, EX_CONFIG)
    assert "may not run on CPU 4095" in line and "it may use" in line


# -- queues and their weights ------------------------------------------------------------


@pytest.mark.parametrize("where", ["flag", "environment"])
def test_a_worker_refuses_a_queue_written_name_colon_weight(
    redis_url: str, redis_client: redis.Redis, where: str
) -> None:
    if where == "flag":
        result = sidequest("worker", "-q", "critical:3", redis_url=redis_url)
    else:
        result = sidequest(
            "worker", redis_url=redis_url, env={"SIDEQUEST_QUEUES": "critical:3 default"}
        )

    line = assert_one_line_error(result, EX_CONFIG)
    assert "'critical:3'" in line and "critical,3" in line
    assert not redis_client.smembers(keys.PROCESSES)


def test_the_start_line_shows_each_queue_with_its_weight_spelled_out(
    redis_url: str, redis_client: redis.Redis, start_worker: Callable[..., WorkerProcess]
) -> None:
    worker = start_worker(redis_url, "-q", "critical,3", "-q", "default")

    line = wait_for(
        lambda: next((line for line in worker.log().splitlines() if " starting: " in line), None),
        message="the worker's start line",
    )
    assert line.endswith("queues critical (weight 3), default"), line
