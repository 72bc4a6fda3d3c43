"""One benchmark run: install, then measure every system in rounds, then hand back Results.

Rounds go by repeat: repeat 1 of every system, then repeat 2 of every system,
so a slow drift of the machine (heat, page cache, another tenant) spreads over
all systems instead of landing on the last one. Within a repeat, figures 1-6
(the no-op job) come first, system by system; then the I/O workloads, one
(workload, logging) pair at a time over every system, so that the rows of one
table are measured minutes apart, not half an hour. A failure of one
measurement is recorded and the run goes on; Ctrl-C stops it, keeping what
was measured.
"""

from __future__ import annotations

import contextlib
import datetime
import math
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict
from functools import partial
from pathlib import Path

from bench import procs
from bench.envs import Unavailable
from bench.estimate import estimate_seconds
from bench.figures.context import Context
from bench.figures.drain import Drain, run_drain
from bench.figures.enqueue import run_enqueue
from bench.figures.idle import run_idle, run_schedule
from bench.figures.periodic import run_periodic
from bench.machine import describe, load_average
from bench.pgdb import Database
from bench.redisd import RedisServer
from bench.samples import Failure, Results, SystemInfo
from bench.settings import Settings
from bench.systems import BY_NAME
from bench.systems.base import Paths, System, Variant

# An I/O job does what the no-op job does plus its I/O, so a system does not run it
# faster than its no-op pace: a backlog of 1.5x what that pace would run within the
# cap keeps the slow systems busy to the end, without minutes spent enqueueing jobs
# that no one will run (see bench/README.md).
BACKLOG_MARGIN = 1.5


def _now() -> str:
    return datetime.datetime.now().astimezone().isoformat(timespec="seconds")


def _say(message: str) -> None:
    print(message, flush=True)


def _info(system: System) -> SystemInfo:
    return SystemInfo(
        name=system.name,
        title=system.title,
        concurrency=system.concurrency,
        bulk_api=system.bulk_api,
        schedule_api=system.schedule_api,
        memory_note=system.memory_note,
        notes=list(system.notes),
        slots=system.slots,
        quiet_by_default=system.quiet_by_default,
    )


def _scratch_dir() -> Path:
    # Records are written once per job: keep them in memory where possible.
    base = Path("/dev/shm") if Path("/dev/shm").is_dir() else Path(tempfile.gettempdir())
    # A harness killed with SIGKILL cannot remove its directory: sweep those of dead runs.
    for old in base.glob("sidequest-bench-*-*"):
        owner = old.name.split("-")[2]
        if owner.isdigit() and not Path(f"/proc/{owner}").exists():
            shutil.rmtree(old, ignore_errors=True)
    return Path(tempfile.mkdtemp(prefix=f"sidequest-bench-{os.getpid()}-", dir=base))


class Runner:
    def __init__(self, settings: Settings, paths: Paths, command: str) -> None:
        self.settings = settings
        self.paths = paths
        self.results = Results(
            command=command,
            started=_now(),
            finished="",
            settings=asdict(settings),
            machine={},
        )
        self._fingerprints: list[str] = []
        self.plan = settings.io_plan()
        self.database: Database | None = None

    def run(self) -> Results:
        stale = procs.track_groups(self.paths.bench / ".work" / "live-groups")
        if stale:
            _say(f"killed {stale} process(es) left behind by an earlier, killed run")
        procs.install_cleanup()
        scratch = _scratch_dir()
        server = RedisServer(self.paths.bench / ".work" / f"redis-{os.getpid()}")
        try:
            systems = self._prepare()
            self._say_estimate(systems)
            server.start()
            self.results.machine = describe(server.version())
            self._create_database()
            ctx = Context(self.settings, self.paths, server, scratch, self.results)
            for repeat in range(1, self.settings.repeats + 1):
                self._repeat(ctx, systems, repeat)
            self._check_unchanged(systems)
            self.results.machine["load average at the end"] = load_average()
        except (KeyboardInterrupt, procs.Interrupted) as stop:
            _say(f"\ninterrupted ({type(stop).__name__}): stopping every process, keeping results")
            self.results.interrupted = True
        finally:
            procs.stop_all()
            server.stop()
            self._drop_database()
            shutil.rmtree(scratch, ignore_errors=True)
            self.results.finished = _now()
        return self.results

    def _repeat(self, ctx: Context, systems: list[System], repeat: int) -> None:
        if self.settings.noop_figures:
            for system in systems:
                self._measure(ctx, system, repeat)
        for workload, logging in self.plan:
            _say(
                f"[repeat {repeat}/{self.settings.repeats}] {workload} workload, {logging} logging"
            )
            for system in systems:
                self._io_drains(ctx, system, Variant(workload, logging), repeat)

    def _say_estimate(self, systems: list[System]) -> None:
        seconds = estimate_seconds(self.settings, [s.name for s in systems])
        minutes = f"{seconds / 60:.0f}" if seconds >= 600 else f"{seconds / 60:.1f}"
        _say(f"estimated duration: {minutes} min (a model of this machine's earlier runs)")

    def _create_database(self) -> None:
        """The sql workload's database; without it, that workload is left out and said so."""
        if not any(workload == "sql" for workload, _ in self.plan):
            return
        database = Database()
        try:
            database.create()
        except Exception as error:  # no PostgreSQL: the other workloads still run
            with contextlib.suppress(Exception):
                database.drop()
            message = f"no database for the sql workload: {type(error).__name__}: {error}"
            self.results.failures.append(Failure("all", "sql", 0, message))
            _say(f"  {message}")
            self.plan = [(w, lg) for w, lg in self.plan if w != "sql"]
            return
        self.database = database
        _say(f"created PostgreSQL database {database.name} for the sql workload")

    def _drop_database(self) -> None:
        if self.database is None:
            return
        try:
            self.database.drop()
        except Exception as error:  # never hide the run's own outcome behind cleanup
            _say(f"  could not drop database {self.database.name}: {error}")

    def _prepare(self) -> list[System]:
        ready: list[System] = []
        for name in self.settings.systems:
            system = BY_NAME[name]()
            info = _info(system)
            self.results.systems.append(info)
            _say(f"preparing {name}")
            try:
                system.prepare(self.paths)
            except Unavailable as why:
                info.unavailable = str(why)
                _say(f"  {name} will not run: {why}")
                continue
            info.versions = system.versions(self.paths)
            self._fingerprints.append(system.fingerprint(self.paths))
            ready.append(system)
        return ready

    def _check_unchanged(self, systems: list[System]) -> None:
        """Record a failure for a system whose code changed while it was measured.

        sidequest runs from the working tree (an editable install), which other
        work may change during an hour-long run.
        """
        for system, before in zip(systems, self._fingerprints, strict=True):
            after = system.fingerprint(self.paths)
            if after != before:
                message = f"its code changed during the run ({before} -> {after})"
                self.results.failures.append(Failure(system.name, "all", 0, message))
                _say(f"  WARNING {system.name}: {message}")

    def _attempt(self, system: System, figure: str, repeat: int, step: Callable[[], None]) -> None:
        try:
            step()
        except (KeyboardInterrupt, procs.Interrupted):
            raise
        except Exception as error:  # one failed measurement must not end an hour-long run
            message = f"{type(error).__name__}: {error}"
            self.results.failures.append(Failure(system.name, figure, repeat, message))
            _say(f"    FAILED {system.name} {figure} r{repeat}: {message}")

    def _measure(self, ctx: Context, system: System, repeat: int) -> None:
        settings = self.settings
        _say(f"[repeat {repeat}/{settings.repeats}] {system.name}")
        # Enqueue samples still needed this repeat; a drain's pre-enqueue provides them.
        needed = ["single", "bulk"] if system.bulk_api else ["single"]
        if not settings.wants("enqueue"):
            needed = []
        if settings.drains:
            for count in settings.procs or system.process_counts:
                mode = needed.pop(0) if needed else ("bulk" if system.bulk_api else "single")
                step = partial(self._drain, ctx, system, count, repeat, mode)
                self._attempt(system, f"drain p{count}", repeat, step)
        for mode in needed:
            step = partial(self._enqueue, ctx, system, mode, repeat)
            self._attempt(system, f"enqueue {mode}", repeat, step)
        memory, latency = settings.wants("memory"), settings.wants("latency")
        if memory or latency:
            step = partial(self._idle, ctx, system, repeat, memory, latency)
            self._attempt(system, "idle", repeat, step)
        if settings.wants("schedule"):
            self._attempt(system, "schedule", repeat, partial(self._schedule, ctx, system, repeat))
        # 300 ticks take minutes per system and vary little: measured in the first repeat only.
        if settings.wants("periodic") and repeat == 1:
            self._attempt(system, "periodic", repeat, partial(self._periodic, ctx, system, repeat))

    def _drain(self, ctx: Context, system: System, count: int, repeat: int, mode: str) -> None:
        began = time.monotonic()
        drain = Drain(count, self.settings.n, self.settings.drain_cap, mode)
        sample, enqueued = run_drain(ctx, system, drain, repeat)
        self.results.drains.append(sample)
        kept = ""
        # One enqueue sample per mode and repeat: the first drain that used the mode.
        if self.settings.wants("enqueue") and not any(
            e.system == system.name and e.repeat == repeat and e.mode == mode
            for e in self.results.enqueues
        ):
            self.results.enqueues.append(enqueued)
            kept = f"; enqueue {mode}: {enqueued.rate:,.0f} jobs/s"
        capped = f", capped at {sample.done}/{sample.target}" if sample.capped else ""
        _say(
            f"  drain p{count}: {sample.rate:,.0f} jobs/s{capped}, "
            f"{sample.commands_per_job:.2f} cmds/job, {sample.cpu_per_1000:.2f} CPU s/1000 jobs, "
            f"boot {sample.boot_seconds:.1f} s{kept} ({time.monotonic() - began:.1f} s)"
        )

    def _io_drains(self, ctx: Context, system: System, variant: Variant, repeat: int) -> None:
        if (
            not variant.quiet
            and system.quiet_by_default
            and (variant.workload, "quiet") in self.plan
        ):
            _say(f"  {system.name}: default logging = quiet (no line per job): measured once")
            return
        if variant.workload == "sql" and self.database is not None:
            variant = Variant(variant.workload, variant.logging, self.database.dsn)
        for count in self.settings.procs or (1, 2):
            step = partial(self._io_drain, ctx, system, variant, count, repeat)
            figure = f"{variant.workload} {variant.logging} p{count}"
            self._attempt(system, figure, repeat, step)

    def _backlog(self, system: System, count: int, workload: str) -> int:
        """Jobs to enqueue: N, or fewer where the system's no-op pace cannot reach N in the cap."""
        n = self.settings.n_of(workload)
        paces = [
            d.rate
            for d in self.results.drains
            if d.system == system.name and d.procs == count and d.of("noop", "quiet")
        ]
        paces = [p for p in paces if math.isfinite(p)]
        if workload == "noop" or not paces:
            return n
        reachable = BACKLOG_MARGIN * max(paces) * self.settings.cap_of(workload)
        return min(n, max(1000, math.ceil(reachable / 1000) * 1000))

    def _io_drain(
        self, ctx: Context, system: System, variant: Variant, count: int, repeat: int
    ) -> None:
        began = time.monotonic()
        n = self._backlog(system, count, variant.workload)
        mode = "bulk" if system.bulk_api else "single"
        drain = Drain(count, n, self.settings.cap_of(variant.workload), mode, variant)
        sample, _ = run_drain(ctx, system, drain, repeat)
        self.results.drains.append(sample)
        capped = f", capped at {sample.done:,}/{sample.target:,}" if sample.capped else ""
        _say(
            f"  {system.name} p{count}: {sample.rate:,.0f} jobs/s{capped}, "
            f"{sample.cpu_per_1000:.2f} CPU s/1000 jobs, boot {sample.boot_seconds:.1f} s "
            f"({time.monotonic() - began:.1f} s)"
        )

    def _enqueue(self, ctx: Context, system: System, mode: str, repeat: int) -> None:
        sample = run_enqueue(ctx, system, mode, repeat)
        self.results.enqueues.append(sample)
        _say(f"  enqueue {mode}: {sample.rate:,.0f} jobs/s")

    def _idle(self, ctx: Context, system: System, repeat: int, memory: bool, latency: bool) -> None:
        used, delays = run_idle(ctx, system, repeat, memory=memory, latency=latency)
        if used is not None:
            self.results.memory.append(used)
            _say(f"  idle memory: RSS {used.rss / 2**20:.1f} MB over {used.processes} process(es)")
        if delays is not None:
            self.results.delays.append(delays)
            _say(
                f"  latency: p50 {delays.p50 * 1e3:.2f} ms, p99 {delays.p99 * 1e3:.2f} ms, "
                f"max {delays.max * 1e3:.1f} ms ({delays.done}/{delays.sent} ran)"
            )

    def _schedule(self, ctx: Context, system: System, repeat: int) -> None:
        delays = run_schedule(ctx, system, repeat)
        self.results.delays.append(delays)
        _say(
            f"  schedule: p50 {delays.p50 * 1e3:.1f} ms, p99 {delays.p99 * 1e3:.1f} ms, "
            f"max {delays.max * 1e3:.1f} ms, early {delays.early} ({delays.done}/{delays.sent} ran)"
        )

    def _periodic(self, ctx: Context, system: System, repeat: int) -> None:
        sample = run_periodic(ctx, system, repeat)
        if sample is None:
            _say("  periodic: no periodic scheduler of its own (or measured with another system)")
            return
        self.results.periodic.append(sample)
        _say(
            f"  periodic: {sample.ticks} ticks, lateness p50 {sample.p50 * 1e3:.1f} ms, "
            f"p99 {sample.p99 * 1e3:.1f} ms, duplicated {sample.duplicated}, "
            f"missed {sample.missed}"
        )


def default_paths() -> Paths:
    bench = Path(__file__).resolve().parent
    repo = bench.parent
    logs = bench / ".work" / "logs" / datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    return Paths(repo=repo, bench=bench, venvs=bench / ".venvs", logs=logs)
