"""Command line of the benchmark suite: ``python -m bench --help``."""

from __future__ import annotations

import argparse
import datetime
import shlex
import socket
import sys
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from bench.procs import AlreadyRunning
from bench.report import render
from bench.runner import Runner, default_paths
from bench.samples import Results
from bench.settings import FIGURES, LOGGINGS, WORKLOADS, Settings
from bench.systems import ALL, BY_NAME

QUICK = {
    "n": 5_000,
    "io_n": 5_000,
    "repeats": 1,
    "latency_jobs": 400,
    "drain_cap": 10.0,
    "io_drain_cap": 3.0,
    "straggler_wait": 5.0,
}


def _names(value: str, allowed: Sequence[str], what: str) -> tuple[str, ...]:
    names = tuple(part.strip() for part in value.split(",") if part.strip())
    unknown = [name for name in names if name not in allowed]
    if unknown:
        raise argparse.ArgumentTypeError(
            f"unknown {what}: {', '.join(unknown)} (choose from {', '.join(allowed)})"
        )
    return names


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m bench",
        description="Benchmark sidequest against Sidekiq 6.4.1, RQ, Celery, Dramatiq, arq "
        "and Huey on one dedicated redis-server.",
    )
    system_names = [cls.name for cls in ALL]
    p.add_argument(
        "--systems",
        type=lambda v: _names(v, system_names, "system"),
        default=tuple(system_names),
        help="comma-separated, default: all of " + ",".join(system_names),
    )
    p.add_argument(
        "--figures",
        type=lambda v: _names(v, FIGURES, "figure"),
        default=FIGURES,
        help="comma-separated, default: all of " + ",".join(FIGURES),
    )
    p.add_argument(
        "--workloads",
        type=lambda v: _names(v, WORKLOADS, "workload"),
        default=WORKLOADS,
        help="what the jobs of the drains do, comma-separated, default: all of "
        + ",".join(WORKLOADS)
        + " (noop is figures 1-6's job; without it only the I/O drains run)",
    )
    p.add_argument(
        "--logging",
        type=lambda v: _names(v, LOGGINGS, "logging"),
        help="log levels of the workers: quiet (no per-job lines) and/or default (each "
        "system's own); default: noop at quiet only, the I/O workloads at both",
    )
    p.add_argument(
        "--quick",
        action="store_true",
        help="development mode: N=5,000, 1 repeat, shorter latency run and caps",
    )
    p.add_argument(
        "--n",
        type=int,
        help="jobs per drain and enqueue run (default 50,000; I/O workloads 20,000)",
    )
    p.add_argument("--repeats", type=int, help="repeats of every measurement (default 3)")
    p.add_argument(
        "--procs",
        type=lambda v: tuple(int(x) for x in v.split(",")),
        help="worker process counts for drains, e.g. 1,2 (default: 1,2; sidequest 1,2,4)",
    )
    p.add_argument("--latency-jobs", type=int, help="jobs sent at the latency rate (2,000)")
    p.add_argument("--latency-rate", type=float, help="jobs/s for the latency figure (200)")
    p.add_argument("--drain-cap", type=float, help="seconds a no-op drain may run (20)")
    p.add_argument("--io-drain-cap", type=float, help="seconds an I/O drain may run (4)")
    p.add_argument(
        "--baseline",
        choices=[cls.name for cls in ALL],
        help="system whose ratio to the others is shown (default sidequest)",
    )
    p.add_argument("--out", type=Path, help="report path (.md; the raw .json goes beside it)")
    p.add_argument(
        "--report",
        type=Path,
        metavar="JSON",
        help="only render the report of an earlier run's .json",
    )
    p.add_argument(
        "--note",
        action="append",
        default=[],
        help="a remark printed at the top of the report (repeatable; with --report it is "
        "added to that run's .json too)",
    )
    p.add_argument("--list", action="store_true", help="list the systems and exit")
    return p


def settings_from(args: argparse.Namespace) -> Settings:
    settings = Settings(
        systems=args.systems, figures=args.figures, workloads=args.workloads, logging=args.logging
    )
    if args.quick:
        settings = replace(settings, quick=True, **QUICK)  # type: ignore[arg-type]
    overrides = {
        "n": args.n,
        "io_n": args.n,
        "repeats": args.repeats,
        "procs": args.procs,
        "latency_jobs": args.latency_jobs,
        "latency_rate": args.latency_rate,
        "drain_cap": args.drain_cap,
        "io_drain_cap": args.io_drain_cap,
        "baseline": args.baseline,
    }
    return replace(settings, **{k: v for k, v in overrides.items() if v is not None})


def default_out(settings: Settings, bench: Path) -> Path:
    """bench/results/ for a full default run; bench/.work/results/ for anything smaller.

    Only full runs are meant to be committed; quick and partial runs would
    otherwise overwrite the day's real results.
    """
    stem = f"{datetime.date.today().isoformat()}-{socket.gethostname()}"
    full = Settings(systems=tuple(cls.name for cls in ALL))
    if settings == full:
        return bench / "results" / f"{stem}.md"
    stamp = datetime.datetime.now().strftime("%H%M%S")
    return bench / ".work" / "results" / f"{stem}-{stamp}.md"


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if args.list:
        for cls in ALL:
            print(f"{cls.name:10} {cls.title}: {cls.concurrency}")
        return 0
    if args.report:
        results = Results.load(args.report)
        if args.note:
            results.notes += args.note
            results.save(args.report)
        out = args.out or args.report.with_suffix(".md")
        out.write_text(render(results))
        print(f"report: {out}")
        return 0
    settings = settings_from(args)
    if settings.baseline not in BY_NAME:
        raise SystemExit(f"unknown baseline {settings.baseline}")
    paths = default_paths()
    command = "python -m bench " + shlex.join(sys.argv[1:] if argv is None else list(argv))
    try:
        results = Runner(settings, paths, command.strip()).run()
    except AlreadyRunning as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    results.notes += args.note
    out = args.out or default_out(settings, paths.bench)
    out.parent.mkdir(parents=True, exist_ok=True)
    results.save(out.with_suffix(".json"))
    out.write_text(render(results))
    print(f"\nreport: {out}\nraw samples: {out.with_suffix('.json')}\nlogs: {paths.logs}")
    return 130 if results.interrupted else (1 if results.failures else 0)
