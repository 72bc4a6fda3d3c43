"""The limiter benchmark: what a concurrency limit costs and how faithfully it holds.

    .venv/bin/python -m bench.limits                      # sidequest and Dramatiq
    .venv/bin/python -m bench.limits --systems sidequest --n 5000

On a redis-server of its own (bench/redisd.py), for sidequest (`limits_concurrency`)
and Dramatiq (`ConcurrentRateLimiter` on its Redis backend, bench/.venvs/dramatiq):

1. cost: N jobs that each do one INCR, drained by one worker process of 10 threads,
   with no limit and with a concurrency limit of 1,000 that never binds, alternately,
   `--repeats` pairs for sidequest (medians reported; on a machine shared with other
   work a single pair says little) and `--peer-repeats` for Dramatiq. Throughput is
   measured from the first job's INCR to the last one's; commands are Redis's
   `INFO commandstats` over the drain (reset after the enqueue), every command counted,
   those run inside Lua scripts included, beside the top-level ones (EVALSHA and the
   rest: the round trips).
2. fidelity: jobs limited to 3 at a time that hold their slot for 20 ms, on two worker
   processes of 10 threads: the most that ran at once (each job adds itself to a set at
   its start and reads its size in one Lua call), the total time against the ideal
   (jobs / 3 x 20 ms), and the start latency after a slot frees: each start after the
   first three is paired with the earliest end not yet paired (the slot it took).

Writes bench/results/<date>-<host>-limits.md and .json (or --out).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from bench import procs
from bench.agents import limit_record
from bench.redisd import RedisServer

ROOT = Path(__file__).resolve().parents[1]
WORK = ROOT / "bench" / ".work" / "limits"


@dataclass
class CostRun:
    system: str
    kind: str  # "plain" or "limited"
    jobs: int
    seconds: float
    commands: dict[str, int]
    polls: int

    @property
    def throughput(self) -> float:
        return (self.jobs - 1) / self.seconds if self.seconds > 0 else 0.0

    def per_job(self, names: Callable[[str], bool] = lambda name: True) -> float:
        calls = sum(count for name, count in self.commands.items() if names(name))
        return calls / self.jobs


@dataclass
class FidelityRun:
    system: str
    jobs: int
    hold: float
    processes: int
    seconds: float
    ran: int
    max_running: int
    latencies_ms: list[float] = field(default_factory=list)

    @property
    def ideal(self) -> float:
        return self.jobs / 3 * self.hold


@dataclass
class System:
    name: str
    python: Path
    module: str

    def worker(self, queue: str) -> list[str]:
        if self.name == "sidequest":
            return [
                str(self.python.parent / "sidequest"),
                "worker",
                "-r",
                self.module,
                "-c",
                "10",
                "-q",
                queue,
                "--log-level",
                "WARNING",
            ]
        return [
            str(self.python.parent / "dramatiq"),
            self.module,
            "--processes",
            "1",
            "--threads",
            "10",
            "--queues",
            queue,
        ]


def systems(names: list[str]) -> list[System]:
    known = {
        "sidequest": System(
            "sidequest", ROOT / ".venv" / "bin" / "python", "bench.agents.sidequest_limit_jobs"
        ),
        "dramatiq": System(
            "dramatiq",
            ROOT / "bench" / ".venvs" / "dramatiq" / "bin" / "python",
            "bench.agents.dramatiq_limit_jobs",
        ),
    }
    if "dramatiq" in names and not known["dramatiq"].python.exists():
        from bench.envs import ensure_venv  # noqa: PLC0415 - only when missing

        ensure_venv(
            ROOT / "bench" / ".venvs" / "dramatiq",
            ROOT / "bench" / "requirements" / "dramatiq.txt",
            WORK / "dramatiq-venv.log",
        )
    return [known[name] for name in names]


def env(url: str) -> dict[str, str]:
    environment = {k: v for k, v in os.environ.items() if k != "VIRTUAL_ENV"}
    environment.update(PYTHONPATH=str(ROOT), REDIS_URL=url, PYTHONDONTWRITEBYTECODE="1")
    return environment


def enqueue(system: System, url: str, kind: str, jobs: int, hold: float) -> None:
    code = f"from {system.module} import enqueue; enqueue({kind!r}, {jobs}, {hold!r})"
    subprocess.run([str(system.python), "-c", code], env=env(url), check=True, cwd=ROOT)


def start_workers(system: System, url: str, count: int, log: Path) -> list[subprocess.Popen[bytes]]:
    return [
        procs.spawn(system.worker("bench"), env=env(url), cwd=ROOT, log=log) for _ in range(count)
    ]


def cost(server: RedisServer, system: System, kind: str, jobs: int, log: Path) -> CostRun:
    server.reset()
    enqueue(system, server.url, kind, jobs, 0.0)
    client = server.client
    client.config_resetstat()
    workers = start_workers(system, server.url, 1, log)
    polls = 0
    try:
        first = last = 0.0
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            done = int(client.get(limit_record.DONE) or 0)
            polls += 1
            now = time.monotonic()
            if done and not first:
                first = now
            if done >= jobs:
                last = now
                break
            time.sleep(0.002)
        if not last:
            raise RuntimeError(f"{system.name} {kind}: the drain did not end within 300 s")
        time.sleep(0.3)  # the last acknowledgements
        commands = server.command_calls()
    finally:
        procs.stop_many(workers)
    commands["get"] = commands.get("get", 0) - polls
    return CostRun(system.name, kind, jobs, last - first, commands, polls)


def fidelity(
    server: RedisServer, system: System, jobs: int, hold: float, processes: int, log: Path
) -> FidelityRun:
    server.reset()
    client = server.client
    workers = start_workers(system, server.url, processes, log)
    try:
        time.sleep(3.0)  # the workers are up and idle before the first job arrives
        began = time.monotonic()
        enqueue(system, server.url, "slot", jobs, hold)
        deadline = began + 180
        while client.llen(limit_record.ENDS) < jobs and time.monotonic() < deadline:
            time.sleep(0.01)
        seconds = time.monotonic() - began
    finally:
        procs.stop_many(workers)
    starts = sorted(float(v) for v in client.lrange(limit_record.STARTS, 0, -1))
    ends = sorted(float(v) for v in client.lrange(limit_record.ENDS, 0, -1))
    return FidelityRun(
        system.name,
        jobs,
        hold,
        processes,
        seconds,
        len(ends),
        int(client.get(limit_record.MAX) or 0),
        _latencies(starts, ends),
    )


def _latencies(starts: list[float], ends: list[float]) -> list[float]:
    """Start latency after a slot frees, in ms: every start after the first three takes
    the slot of the earliest end not yet taken."""
    latencies = []
    free = iter(ends)
    for start in starts[3:]:
        end = next(free, None)
        if end is None:
            break
        latencies.append(max(0.0, start - end) * 1000)
    return latencies


def _pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def report(cost_runs: list[CostRun], fidelity_runs: list[FidelityRun], meta: dict[str, str]) -> str:
    lines = [
        "# Limiter benchmark: a concurrency limit's cost and fidelity",
        "",
        f"{meta['date']} on {meta['host']} ({meta['cpus']} CPUs, load {meta['load']} at the "
        f"start), Redis {meta['redis']}, `{meta['command']}`. One run; what each number "
        "means is in bench/limits.py's docstring.",
        "",
        "## 1. Cost of a limit that never binds (one worker process, 10 threads)",
        "",
        "Runs alternate, unlimited then limited, so that both see the same load.",
        "",
        "| system | limit | runs | jobs/s, median (range) | vs no limit: medians (each "
        "limited run / the unlimited run before it) | commands/job (all) | EVALSHA/job | "
        "the limit's extra commands/job: all / round trips |",
        "|---|---|---|---|---|---|---|---|",
    ]
    by_system: dict[str, dict[str, list[CostRun]]] = {}
    for run in cost_runs:
        by_system.setdefault(run.system, {}).setdefault(run.kind, []).append(run)
    for name, runs in by_system.items():
        plain = runs.get("plain", [])
        for kind in ("plain", "limited"):
            these = runs.get(kind, [])
            if not these:
                continue
            rates = [run.throughput for run in these]
            rate = statistics.median(rates)
            ratio = "-"
            if plain:
                ratio = f"{rate / statistics.median(r.throughput for r in plain):.0%}"
                if kind == "limited" and len(these) == len(plain):
                    pairs = sorted(
                        a.throughput / b.throughput for a, b in zip(these, plain, strict=True)
                    )
                    ratio += f" ({pairs[0]:.0%}-{pairs[-1]:.0%} by pair)"
            per_job = statistics.median(run.per_job() for run in these)
            evalsha = statistics.median(
                run.per_job(lambda n: n in {"evalsha", "eval"}) for run in these
            )
            extra = "-"
            if kind == "limited" and plain:
                trips = statistics.median(_round_trips(run) for run in these) - statistics.median(
                    _round_trips(run) for run in plain
                )
                extra = (
                    f"{per_job - statistics.median(r.per_job() for r in plain):+.2f} / {trips:+.2f}"
                )
            label = "none" if kind == "plain" else "concurrency 1,000"
            spread = f" ({min(rates):,.0f}-{max(rates):,.0f})" if len(rates) > 1 else ""
            lines.append(
                f"| {name} | {label} | {len(these)} | {rate:,.0f}{spread} | {ratio} "
                f"| {per_job:.2f} | {evalsha:.2f} | {extra} |"
            )
    lines += [
        "",
        "All: every command in `INFO commandstats`, those a Lua script runs included "
        "(the measure of bench/README.md's figure 5). Round trips: the commands a "
        "limit adds that a worker sends itself. sidequest's limit sends only EVALSHA "
        "(limit_acquire.lua before perform, limit_release.lua after), so its round trips "
        "are the difference in EVALSHA calls; Dramatiq's rate-limiter backend sends plain "
        "commands (its broker is one Lua script, EVALSHA), so its round trips are the "
        "difference in commands other than EVALSHA and those its broker's script runs, "
        "which a limit does not change.",
        "",
        "## 2. Fidelity: 3 slots, each job holding one for its run",
        "",
        "| system | processes x threads | jobs x hold | most running at once | time "
        "(ideal) | start after a slot frees p50 / p99 / max | jobs run |",
        "|---|---|---|---|---|---|---|",
    ]
    for held in fidelity_runs:
        waits = held.latencies_ms
        lines.append(
            f"| {held.system} | {held.processes} x 10 | {held.jobs} x {held.hold * 1000:.0f} ms "
            f"| {held.max_running} | {held.seconds:.2f} s ({held.ideal:.2f} s) | "
            f"{_pct(waits, 0.5):.1f} / {_pct(waits, 0.99):.1f} / "
            f"{max(waits, default=float('nan')):.1f} ms | {held.ran} |"
        )
    lines += [
        "",
        "The latency is from the end of perform in the job that held the slot to the "
        "start of perform in the job that took it: it includes the release, the wake-up "
        "of a waiting job and its admission. Dramatiq's limiter has no waiting list: a "
        "refused job raises `RateLimitExceeded` and is retried by its Retries middleware "
        "after a backoff (set to its smallest, 10-500 ms, for this run; the default "
        "starts at 15 s), so its latency is that backoff. Its slots are a counter with a "
        "15-minute TTL, not tied to a process: a killed worker's slot stays taken until "
        "the TTL; sidequest's come back when the killed process's lease expires.",
        "",
    ]
    return "\n".join(lines)


def _round_trips(run: CostRun) -> float:
    """Commands per job a worker sent itself, as far as the limit changes them: for
    sidequest its EVALSHA calls; for Dramatiq every command but EVALSHA (its limiter
    backend's commands are plain ones, the broker's script's are the same with or
    without a limit, so the difference is the limiter's)."""
    if run.system == "sidequest":
        return run.per_job(lambda name: name in {"evalsha", "eval"})
    return run.per_job(lambda name: name not in {"evalsha", "eval"})


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.limits", description=__doc__)
    parser.add_argument("--systems", default="sidequest,dramatiq")
    parser.add_argument("--n", type=int, default=20_000, help="jobs per sidequest cost run")
    parser.add_argument("--repeats", type=int, default=3, help="sidequest's cost run pairs")
    parser.add_argument("--peer-n", type=int, default=5_000, help="jobs per Dramatiq cost run")
    parser.add_argument("--peer-repeats", type=int, default=1, help="Dramatiq's run pairs")
    parser.add_argument("--fidelity-jobs", type=int, default=300)
    parser.add_argument("--hold", type=float, default=0.02, help="seconds a slot is held")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    procs.install_cleanup()
    WORK.mkdir(parents=True, exist_ok=True)
    logs = WORK / datetime.now(UTC).strftime("logs-%Y%m%dT%H%M%S")
    chosen = systems(args.systems.split(","))
    server = RedisServer(WORK / "redis")
    server.start()
    meta = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "host": platform.node(),
        "cpus": str(os.cpu_count()),
        "load": " ".join(f"{x:.2f}" for x in os.getloadavg()),
        "redis": server.version(),
        "command": "python -m bench.limits " + " ".join(argv if argv is not None else sys.argv[1:]),
    }
    cost_runs: list[CostRun] = []
    fidelity_runs: list[FidelityRun] = []
    try:
        for system in chosen:
            repeats = args.repeats if system.name == "sidequest" else args.peer_repeats
            jobs = args.n if system.name == "sidequest" else args.peer_n
            for repeat in range(repeats):
                for kind in ("plain", "limited"):
                    log = logs / f"{system.name}-{kind}-{repeat}.log"
                    run = cost(server, system, kind, jobs, log)
                    print(
                        f"{system.name} {kind}: {run.throughput:,.0f} jobs/s, "
                        f"{run.per_job():.2f} commands/job",
                        flush=True,
                    )
                    cost_runs.append(run)
            held = fidelity(
                server, system, args.fidelity_jobs, args.hold, 2, logs / f"{system.name}-slots.log"
            )
            print(
                f"{system.name} fidelity: max {held.max_running} running, {held.seconds:.2f}s "
                f"(ideal {held.ideal:.2f}s), p99 start after a free slot "
                f"{_pct(held.latencies_ms, 0.99):.1f} ms",
                flush=True,
            )
            fidelity_runs.append(held)
    finally:
        server.stop()
    text = report(cost_runs, fidelity_runs, meta)
    out = args.out or ROOT / "bench" / "results" / (
        datetime.now(UTC).strftime("%Y-%m-%d-") + platform.node() + "-limits.md"
    )
    out.write_text(text)
    out.with_suffix(".json").write_text(
        json.dumps(
            {
                "meta": meta,
                "cost": [asdict(run) for run in cost_runs],
                "fidelity": [asdict(run) for run in fidelity_runs],
            },
            indent=1,
        )
    )
    print(text)
    print(f"written to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
