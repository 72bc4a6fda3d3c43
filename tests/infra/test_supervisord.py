"""worker/supervisord.conf: parsed by supervisor itself, then run for real with stand-in workers.

The stand-ins (a fake `worker` package put first on sys.path) behave like the real
processes towards supervisord: they write prometheus_client-style files named by pid,
and on SIGTERM they finish briefly and exit 0.
"""

from __future__ import annotations

import importlib.util
import io
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from tests.infra.conftest import REPO, VENV_BIN, parse_duration
from tests.support.polling import wait_for

CONF = REPO / "worker/supervisord.conf"
ENTRYPOINT = REPO / "infra/docker/entrypoint.sh"
LISTENER = REPO / "infra/supervisor/listener.py"
SHUTDOWN_TIMEOUT = 25.0  # SIDEQUEST_SHUTDOWN_TIMEOUT's default (worker runtime, Compose)


def server_options(monkeypatch: pytest.MonkeyPatch, processes: int, run_dir: Path) -> Any:
    """supervisord's own parser, with the environment the entrypoint provides."""
    from supervisor.options import ServerOptions

    monkeypatch.setenv("WORKER_PROCESSES", str(processes))
    monkeypatch.setenv("SUPERVISOR_RUN_DIR", str(run_dir))
    options = ServerOptions()
    options.configfile = str(CONF)
    options.process_config(do_usage=False)
    return options


def groups(options: Any) -> dict[str, Any]:
    return {group.name: group for group in options.process_group_configs}


@pytest.mark.parametrize("processes", [1, 4])
def test_numprocs_follows_worker_processes(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, processes: int
) -> None:
    worker = groups(server_options(monkeypatch, processes, tmp_path))["worker"]
    names = [config.name for config in worker.process_configs]
    assert names == [f"worker_{n:02d}" for n in range(processes)]
    assert {config.command for config in worker.process_configs} == {"python -m worker"}


def test_worker_program_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from supervisor.datatypes import RestartUnconditionally

    options = server_options(monkeypatch, 2, tmp_path)
    assert options.nodaemon
    by_name = groups(options)
    for config in by_name["worker"].process_configs:
        assert config.stopsignal == signal.SIGTERM
        assert config.stopwaitsecs > SHUTDOWN_TIMEOUT, "SIGKILL before the graceful shutdown ends"
        assert config.autorestart is RestartUnconditionally, "a SIGKILLed worker must come back"
        assert config.stopasgroup and config.killasgroup
        assert config.stdout_logfile == "/dev/stdout" and config.stdout_logfile_maxbytes == 0
        assert config.redirect_stderr
    (metrics,) = by_name["metrics"].process_configs
    assert metrics.command == "python -m worker.metrics"
    assert metrics.autorestart is RestartUnconditionally
    assert metrics.stdout_logfile == "/dev/stdout"
    for config in (*by_name["worker"].process_configs, metrics):
        # supervisord's loop polls for 1 s and checks startsecs before reaping: a
        # shorter window lets a program that dies at once count as started.
        assert config.startsecs >= 3, f"{config.name}: a crash loop would never go FATAL"
    listener = by_name["procwatch"]
    assert {event.__name__ for event in listener.pool_events} == {
        "ProcessStateExitedEvent",
        "ProcessStateBackoffEvent",
        "ProcessStateFatalEvent",
    }
    # Start order: listener, exporter, workers. Stop order: the reverse.
    assert listener.priority < by_name["metrics"].priority < by_name["worker"].priority


def test_compose_grace_period_covers_the_whole_shutdown(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, compose_source: dict[str, Any]
) -> None:
    """Groups stop one after another: the grace period must cover their sum plus ticks."""
    options = server_options(monkeypatch, 2, tmp_path)
    budget = sum(
        max(config.stopwaitsecs for config in group.process_configs) + 1
        for group in options.process_group_configs
    )
    worker = compose_source["services"]["worker"]
    assert float(worker["environment"]["SIDEQUEST_SHUTDOWN_TIMEOUT"]) == SHUTDOWN_TIMEOUT
    assert parse_duration(worker["stop_grace_period"]) >= budget


def load_listener() -> ModuleType:
    spec = importlib.util.spec_from_file_location("supervisor_listener", LISTENER)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_listener_marks_exited_processes_dead(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    listener = load_listener()
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    (tmp_path / "gauge_livesum_4242.db").touch()
    (tmp_path / "counter_4242.db").touch()
    payload = b"processname:worker_01 groupname:worker from_state:RUNNING expected:0 pid:4242"
    stdin = io.BytesIO(
        b"ver:3.0 server:supervisor serial:1 pool:procwatch poolserial:1 "
        b"eventname:PROCESS_STATE_EXITED len:%d\n%s" % (len(payload), payload)
    )
    stdout = io.BytesIO()
    listener.serve(stdin, stdout)
    assert stdout.getvalue() == b"READY\nRESULT 2\nOKREADY\n"
    assert not (tmp_path / "gauge_livesum_4242.db").exists()
    assert (tmp_path / "counter_4242.db").exists(), "counters must survive their process"


FAKE_WORKER = """
import os, signal, sys, time
directory = os.environ["PROMETHEUS_MULTIPROC_DIR"]
for kind in ("gauge_livesum", "counter"):
    open(os.path.join(directory, f"{kind}_{os.getpid()}.db"), "w").close()

def stop(signum, frame):
    print(f"fake worker {os.getpid()} stopping", flush=True)
    time.sleep(0.3)
    sys.exit(0)

signal.signal(signal.SIGTERM, stop)
while True:
    time.sleep(0.1)
"""

FAKE_METRICS = """
import os, sys, time
if os.environ.get("FAKE_METRICS_FAILS"):
    sys.exit(3)
while True:
    time.sleep(0.1)
"""


class Supervisor:
    """The container's start command, run as a child process group of the test."""

    def __init__(self, root: Path, processes: int, extra_env: dict[str, str]) -> None:
        package = root / "worker"
        package.mkdir()
        (package / "__init__.py").write_text("")
        (package / "__main__.py").write_text(FAKE_WORKER)
        (package / "metrics.py").write_text(FAKE_METRICS)
        self.multiproc = root / "multiproc"
        self.multiproc.mkdir()
        (self.multiproc / "counter_7.db").write_text("left over from the previous run")
        self.log = root / "supervisord.log"
        env = {
            "PATH": f"{VENV_BIN}:{os.environ.get('PATH', '/usr/bin:/bin')}",
            "PROMETHEUS_MULTIPROC_DIR": str(self.multiproc),
            "SUPERVISOR_RUN_DIR": str(root / "run"),
            "WORKER_PROCESSES": str(processes),
            **extra_env,
        }
        with self.log.open("ab") as log:  # append mode: supervisord and children share it
            self.process = subprocess.Popen(
                [str(ENTRYPOINT), str(VENV_BIN / "supervisord"), "-c", str(CONF)],
                cwd=root,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def live_pids(self) -> set[int]:
        return {int(p.stem.rsplit("_", 1)[1]) for p in self.multiproc.glob("gauge_livesum_*.db")}

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)


@pytest.fixture
def run_supervisor(tmp_path: Path) -> Iterator[Any]:
    started: list[Supervisor] = []

    def start(processes: int, **extra_env: str) -> Supervisor:
        supervisor = Supervisor(tmp_path, processes, extra_env)
        started.append(supervisor)
        return supervisor

    yield start
    for supervisor in started:
        supervisor.stop()


def process_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.mark.slow
def test_container_command_restarts_killed_workers_and_stops_cleanly(run_supervisor: Any) -> None:
    supervisor: Supervisor = run_supervisor(3)

    def three_live(excluding: set[int]) -> set[int]:
        live = supervisor.live_pids()
        return live if len(live) == 3 and not live & excluding else set()

    pids = wait_for(lambda: three_live(set()), timeout=20, message="three worker processes")
    assert not (supervisor.multiproc / "counter_7.db").exists(), "entrypoint must empty the dir"
    wait_for(
        lambda: all(f"worker_{n:02d} entered RUNNING" in supervisor.output() for n in range(3)),
        timeout=20,
        message="three workers RUNNING",
    )
    # A running worker is SIGKILLed (EXITED event), then its replacement is killed
    # again while still starting (BACKOFF event, which carries no pid). Both times
    # the listener drops the dead pid's live gauge and supervisord starts another.
    first = min(pids)
    os.kill(first, signal.SIGKILL)
    (second,) = wait_for(
        lambda: three_live({first}) - pids, timeout=20, message="the killed worker replaced"
    )
    os.kill(second, signal.SIGKILL)
    replaced = wait_for(
        lambda: three_live({first, second}), timeout=20, message="the twice-killed worker replaced"
    )
    for victim in (first, second):
        assert (supervisor.multiproc / f"counter_{victim}.db").exists(), "counters must survive"
    assert "exited: worker_" in supervisor.output()

    started = time.monotonic()
    supervisor.process.send_signal(signal.SIGTERM)
    assert supervisor.process.wait(timeout=30) == 0
    elapsed = time.monotonic() - started
    output = supervisor.output()
    for pid in replaced:
        assert f"fake worker {pid} stopping" in output, "workers get SIGTERM, not SIGKILL"
        assert not process_exists(pid)
    assert "SIGKILL" not in output.split("received SIGTERM")[-1]
    assert elapsed < 15, f"shutdown took {elapsed:.1f}s"


@pytest.mark.slow
def test_a_program_that_cannot_start_stops_the_container(run_supervisor: Any) -> None:
    supervisor: Supervisor = run_supervisor(1, FAKE_METRICS_FAILS="1")
    # metrics exits at once: 3 retries with back-off, FATAL, then the listener
    # stops supervisord, so Compose's restart policy can start a fresh container.
    try:
        status = supervisor.process.wait(timeout=60)
    except subprocess.TimeoutExpired:
        pytest.fail(f"supervisord still running after 60 s:\n{supervisor.output()}")
    assert status == 0, supervisor.output()
    output = supervisor.output()
    assert "gave up: metrics entered FATAL state" in output
    assert "metrics could not be started" in output
    assert not supervisor.live_pids() or all(not process_exists(p) for p in supervisor.live_pids())


def test_listener_is_a_standalone_script() -> None:
    """It runs from the image's venv as `python <path>`: no project imports."""
    source = LISTENER.read_text(encoding="utf-8")
    assert "from sidequest" not in source and "import worker" not in source
    result = subprocess.run(
        [sys.executable, str(LISTENER)], input=b"", capture_output=True, timeout=30, check=False
    )
    assert result.returncode == 0 and result.stdout == b"READY\n", result.stderr
