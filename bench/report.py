"""Markdown report of a run: one table per figure, each with the baseline's ratio to every peer.

Every cell is the median over the repeats, with the range (min-max) beside it
when there was more than one repeat. Ratios are always baseline ÷ peer, on the
medians; each table says whether higher or lower is better.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable, Iterable, Sequence
from typing import TypeVar

from bench.samples import DelaySample, DrainSample, Results, SystemInfo
from bench.settings import LOGGINGS, WORKLOADS
from bench.stats import Spread
from bench.targets import SLEEP_IDEAL_PER_PROCESS, Check, check_io, check_periodic
from bench.targets import check as check_targets

T = TypeVar("T")


# Number formats -----------------------------------------------------------------------------


def _count(value: float) -> str:
    return f"{value:,.0f}"


def _ms(seconds: float) -> str:
    if math.isinf(seconds):
        return "unfinished" if seconds > 0 else "-∞"
    ms = seconds * 1000
    if abs(ms) >= 100:
        return f"{ms:,.0f}"
    if abs(ms) >= 10:
        return f"{ms:.1f}"
    return f"{ms:.2f}"


def _mb(value: float) -> str:
    return f"{value / 2**20:.1f}"


def _two(value: float) -> str:
    return f"{value:.2f}"


def _percent(value: float) -> str:
    return f"{value:.0%}"


def _spread(spread: Spread | None, fmt: Callable[[float], str]) -> str:
    if spread is None:
        return "—"
    if spread.count == 1 or spread.low == spread.high:
        return fmt(spread.median)
    return f"{fmt(spread.median)} ({fmt(spread.low)}-{fmt(spread.high)})"


def _ratio(base: Spread | None, peer: Spread | None) -> str:
    """base ÷ peer on the medians; only between two positive, finite values."""
    if base is None or peer is None:
        return "—"
    values = (base.median, peer.median)
    if not all(math.isfinite(v) and v > 0 for v in values):
        return "—"
    ratio = base.median / peer.median
    # Ratios here run from 1/1000 to 1000: keep two significant digits at the small end.
    if ratio < 0.1:
        return f"{ratio:.2g}x"
    return f"{ratio:.2f}x" if ratio < 99.5 else f"{ratio:,.0f}x"


def _table(header: Sequence[str], rows: Iterable[Sequence[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return lines


# The report ---------------------------------------------------------------------------------


class Report:
    def __init__(self, results: Results) -> None:
        self.results = results
        self.baseline = str(results.settings.get("baseline", "sidequest"))
        self.systems = [s for s in results.systems if s.unavailable is None]
        self.ratio_head = f"{self.baseline} ÷ system"

    def _spread(self, items: Iterable[T], value: Callable[[T], float]) -> Spread | None:
        return Spread.of([value(item) for item in items])

    def _vs(self, info: SystemInfo, base: Spread | None, peer: Spread | None) -> str:
        """The ratio cell of a row: empty on the baseline's own row."""
        return "—" if info.name == self.baseline else _ratio(base, peer)

    def drains(
        self,
        system: str,
        procs: int | None = None,
        workload: str = "noop",
        logging: str = "quiet",
    ) -> list[DrainSample]:
        """Drains of one configuration (figure 1's by default: the no-op job, quiet)."""
        return [
            d
            for d in self.results.drains
            if d.system == system
            and (procs is None or d.procs == procs)
            and d.of(workload, logging)
        ]

    def delays(self, system: str, kind: str) -> list[DelaySample]:
        return [d for d in self.results.delays if d.system == system and d.kind == kind]

    def render(self) -> str:
        r = self.results
        s = r.settings
        lines = [f"# sidequest benchmarks: {r.started[:10]} on {r.machine.get('host', '?')}", ""]
        lines += [
            f"Command: `{r.command}`  ",
            f"Started {r.started}, finished {r.finished}"
            + (" (**interrupted**: partial results)" if r.interrupted else "")
            + ".  ",
            f"N = {s['n']:,} jobs per drain and enqueue run"
            + (f" ({s['io_n']:,} for the I/O workloads)" if self.io_configs() else "")
            + f", {s['repeats']} repeat(s); each cell is the median over the repeats with the "
            f"range in parentheses. Ratios are **{self.baseline} ÷ system** on the medians.",
            "",
        ]
        lines += [f"> **Note:** {note}  " for note in r.notes] + ([""] if r.notes else [])
        lines += self.machine() + self.system_table() + self.targets()
        lines += self.drain_table() + self.scaling_table() + self.enqueue_table()
        lines += self.latency_table() + self.schedule_table() + self.commands_table()
        lines += self.memory_table() + self.io_tables() + self.periodic_table()
        lines += self.failures()
        return "\n".join(lines).rstrip() + "\n"

    def machine(self) -> list[str]:
        rows = [(key, value) for key, value in self.results.machine.items() if key != "host"]
        return ["## Machine", "", *_table(("", ""), rows), ""]

    def system_table(self) -> list[str]:
        def versions(info: SystemInfo) -> str:
            return ", ".join(f"{k} {v}" for k, v in info.versions.items()) or "—"

        rows = [(f"**{i.name}**", i.title, versions(i), i.concurrency) for i in self.systems]
        lines = [
            "## Systems",
            "",
            "Every system runs the same no-op job taking one small integer "
            "(it appends a 16-byte record to a file: see bench/README.md), on queue "
            "`default`, with its own defaults except per-job logging, which is off "
            "everywhere"
            + (
                "; in figure 7 the same job first does some I/O, at quiet and at each "
                "system's default logging."
                if self.io_configs()
                else "."
            ),
            "",
        ]
        lines += _table(("system", "what runs", "versions", "concurrency per process"), rows)
        lines.append("")
        for info in self.results.systems:
            if info.unavailable:
                lines.append(f"- **{info.name} did not run**: {info.unavailable}")
        for info in self.systems:
            lines += [f"- {info.name}: {note}" for note in info.notes]
        return [*lines, ""]

    def targets(self) -> list[str]:
        return (
            _checks("issue 7", check_targets(self.results))
            + _checks("issue 13, I/O workloads", check_io(self.results))
            + _checks("issue 16, periodic jobs", check_periodic(self.results))
        )

    def drain_table(self) -> list[str]:
        if not self.results.drains:
            return []
        rows = []
        # Runs of harnesses older than the CPU meter have no CPU column.
        cpu = any(math.isfinite(d.cpu_seconds) for d in self.results.drains)
        for info in self.systems:
            for procs in sorted({d.procs for d in self.drains(info.name)}):
                runs = self.drains(info.name, procs)
                if not runs:
                    continue
                rate = self._spread(runs, lambda d: d.rate)
                base = self._spread(self.drains(self.baseline, procs), lambda d: d.rate)
                rows.append(
                    (
                        info.name,
                        str(procs),
                        _spread(rate, _count),
                        _spread(self._spread(runs, lambda d: d.rate_with_boot), _count),
                        _spread(self._spread(runs, lambda d: d.boot_seconds), _two),
                        *([_spread(self._spread(runs, lambda d: d.cpu_per_1000), _two)] * cpu),
                        _ran(runs),
                        self._vs(info, base, rate),
                    )
                )
        if not rows:
            return []
        cap = self.results.settings["drain_cap"]
        return [
            "## 1. Drain throughput (jobs/s, higher is better)",
            "",
            f"N jobs enqueued, then the worker processes started. jobs/s = jobs run ÷ (last "
            "job's start - first job's start), from the jobs' own records; *with boot* also "
            f"counts from process spawn. A run stops {cap:.0f} s after spawn: slower systems "
            "are measured on the jobs they ran by then (capped)."
            + (
                " CPU: the workers' CPU seconds (user + system, from /proc) per 1,000 jobs, "
                "from each process's first job."
                if cpu
                else ""
            ),
            "",
            *_table(
                (
                    "system",
                    "processes",
                    "jobs/s",
                    "jobs/s with boot",
                    "boot s",
                    *(["CPU s / 1,000 jobs"] * cpu),
                    "jobs run",
                    self.ratio_head,
                ),
                rows,
            ),
            "",
        ]

    def scaling_table(self) -> list[str]:
        counts = sorted({d.procs for d in self.drains(self.baseline)})
        if len(counts) < 2:
            return []
        one = self._spread(self.drains(self.baseline, counts[0]), lambda d: d.rate)
        rows = []
        for procs in counts:
            rate = self._spread(self.drains(self.baseline, procs), lambda d: d.rate)
            factor = _ratio(rate, one)
            rows.append((str(procs), _spread(rate, _count), factor))
        return [
            f"### Scaling of {self.baseline} with worker processes",
            "",
            *_table(("processes", "jobs/s", f"x {counts[0]} process"), rows),
            "",
        ]

    def enqueue_table(self) -> list[str]:
        if not self.results.enqueues:
            return []

        def rate(system: str, mode: str) -> Spread | None:
            found = [e for e in self.results.enqueues if e.system == system and e.mode == mode]
            return self._spread(found, lambda e: e.rate)

        rows = []
        for info in self.systems:
            single, bulk = rate(info.name, "single"), rate(info.name, "bulk")
            rows.append(
                (
                    info.name,
                    _spread(single, _count),
                    _spread(bulk, _count) if info.bulk_api else "n/a",
                    info.bulk_api or "no bulk API",
                    self._vs(info, rate(self.baseline, "single"), single),
                    self._vs(info, rate(self.baseline, "bulk"), bulk),
                )
            )
        return [
            "## 2. Enqueue throughput (jobs/s, higher is better)",
            "",
            f"{self.results.settings['n']:,} jobs into an empty queue by one producer process: "
            "one at a time (each call waits for its reply), and through the bulk API in "
            "batches of 1,000 where the system has one.",
            "",
            *_table(
                (
                    "system",
                    "one at a time",
                    "bulk",
                    "bulk API used",
                    f"{self.ratio_head} (one)",
                    f"{self.ratio_head} (bulk)",
                ),
                rows,
            ),
            "",
        ]

    def _delay_rows(self, kind: str) -> list[tuple[str, ...]]:
        rows = []
        base = self.delays(self.baseline, kind)
        for info in self.systems:
            found = self.delays(info.name, kind)
            if not found:
                continue
            p50 = self._spread(found, lambda d: d.p50)
            p99 = self._spread(found, lambda d: d.p99)
            ran = sum(d.done for d in found)
            sent = sum(d.sent for d in found)
            row = [
                info.name,
                _spread(p50, _ms),
                _spread(p99, _ms),
                _spread(self._spread(found, lambda d: d.max), _ms),
                "all" if ran == sent else f"{ran:,} of {sent:,}",
            ]
            if kind == "latency":
                # A producer stalled inside an enqueue call shows here as well as in the latency.
                row.append(_ms(max(d.producer_lag for d in found)))
            if kind == "schedule":
                early = sum(d.early for d in found)
                earliest = min(d.min for d in found)
                row.append(f"{early} (by up to {_ms(-earliest)} ms)" if early else "none")
            row += [
                self._vs(info, self._spread(base, lambda d: d.p50), p50),
                self._vs(info, self._spread(base, lambda d: d.p99), p99),
            ]
            rows.append(tuple(row))
        return rows

    def latency_table(self) -> list[str]:
        rows = self._delay_rows("latency")
        if not rows:
            return []
        s = self.results.settings
        return [
            "## 3. Enqueue-to-start latency (ms, lower is better)",
            "",
            f"One idle worker process; {s['latency_jobs']:,} jobs arrive at "
            f"{s['latency_rate']:.0f} jobs/s from one producer, which notes the time just "
            "before each enqueue call; latency = job start - that time. A job not started "
            f"{s['straggler_wait']:.0f} s after the last was sent counts as unfinished "
            "(infinitely late). The producer's worst lag behind its pacing shows when an "
            "enqueue call itself blocked (the blocked time is part of that job's latency).",
            "",
            *_table(
                (
                    "system",
                    "p50",
                    "p99",
                    "max",
                    "jobs run",
                    "producer's worst lag",
                    f"{self.ratio_head} (p50)",
                    f"{self.ratio_head} (p99)",
                ),
                rows,
            ),
            "",
        ]

    def schedule_table(self) -> list[str]:
        rows = self._delay_rows("schedule")
        if not rows:
            return []
        s = self.results.settings
        return [
            "## 4. Scheduled-job lateness (ms, lower is better)",
            "",
            f"One idle worker process; {s['schedule_jobs']} jobs scheduled at once, due at "
            f"whole milliseconds spread evenly {s['schedule_min_ahead']:.0f}-"
            f"{s['schedule_max_ahead']:.0f} s ahead; lateness = job start - due time "
            "(negative: started early).",
            "",
            *_table(
                (
                    "system",
                    "p50",
                    "p99",
                    "max",
                    "jobs run",
                    "started early",
                    f"{self.ratio_head} (p50)",
                    f"{self.ratio_head} (p99)",
                ),
                rows,
            ),
            "",
        ]

    def commands_table(self) -> list[str]:
        if not any(d.of("noop", "quiet") for d in self.results.drains):
            return []
        rows = []
        for info in self.systems:
            for procs in sorted({d.procs for d in self.drains(info.name)}):
                runs = self.drains(info.name, procs)
                per_job = self._spread(runs, lambda d: d.commands_per_job)
                base = self._spread(self.drains(self.baseline, procs), lambda d: d.commands_per_job)
                rows.append(
                    (
                        info.name,
                        str(procs),
                        _spread(per_job, _two),
                        _top_commands(runs),
                        self._vs(info, base, per_job),
                    )
                )
        return [
            "## 5. Redis commands per job during a drain (lower is better)",
            "",
            "`CONFIG RESETSTAT` after the enqueue, `INFO commandstats` once the last job ran "
            "(+0.3 s for its acknowledgement); all commands the workers sent, boot and "
            "heartbeats included, ÷ jobs run. A Lua script counts as one command (EVALSHA).",
            "",
            *_table(
                (
                    "system",
                    "processes",
                    "commands/job",
                    "largest shares (per job)",
                    self.ratio_head,
                ),
                rows,
            ),
            "",
        ]

    def memory_table(self) -> list[str]:
        if not self.results.memory:
            return []
        base = self._spread(
            [m for m in self.results.memory if m.system == self.baseline], lambda m: m.rss
        )
        rows = []
        for info in self.systems:
            found = [m for m in self.results.memory if m.system == info.name]
            if not found:
                continue
            rss = self._spread(found, lambda m: m.rss)
            procs = sorted({m.processes for m in found})
            rows.append(
                (
                    info.name,
                    "/".join(map(str, procs)),
                    info.memory_note,
                    _spread(rss, _mb),
                    _spread(self._spread(found, lambda m: m.pss), _mb),
                    self._vs(info, base, rss),
                )
            )
        return [
            "## 6. Idle worker memory (MB, lower is better)",
            "",
            "One worker process (and every process it forked) after its warm-up job and one "
            "idle second. RSS is summed over the processes; PSS splits shared pages between "
            "them, so it is the fairer sum where a system forks helpers.",
            "",
            *_table(
                ("system", "processes", "which", "RSS", "PSS", f"{self.ratio_head} (RSS)"), rows
            ),
            "",
        ]

    def periodic_table(self) -> list[str]:
        samples = self.results.periodic
        if not samples:
            return []
        rows = [
            (
                p.system,
                p.api,
                p.instances,
                f"{p.schedules} x {p.ticks // p.schedules} of {p.period:g} s",
                _ms(p.p50),
                _ms(p.p99),
                _ms(p.max),
                _count(p.duplicated),
                _count(p.missed),
                _count(p.early),
            )
            for p in samples
        ]
        return [
            "## 8. Periodic jobs, two scheduler instances (ms, lower is better)",
            "",
            "Two scheduler instances of each system's own periodic facility, started together; "
            "schedules side by side (`schedules x ticks of period`), measured once. Lateness = "
            "job start - tick, over the ticks that ran; a run that does not know its tick "
            "belongs to the tick its start falls in. Duplicated = runs beyond a tick's first; "
            "missed = ticks that never ran (bench/figures/periodic.py).",
            "",
            *_table(
                (
                    "system",
                    "periodic API",
                    "instances",
                    "ticks",
                    "p50",
                    "p99",
                    "max",
                    "duplicated",
                    "missed",
                    "early",
                ),
                rows,
            ),
            "",
        ]

    # Figure 7: the I/O workloads ---------------------------------------------------------

    def io_configs(self) -> list[tuple[str, str]]:
        """(workload, logging) of every drain set beyond figure 1's, in report order."""
        present = {(d.workload, d.logging) for d in self.results.drains}
        return [
            (workload, logging)
            for workload in WORKLOADS
            for logging in LOGGINGS
            if (workload, logging) in present and (workload, logging) != ("noop", "quiet")
        ]

    def io_runs(
        self, info: SystemInfo, procs: int | None, workload: str, logging: str
    ) -> list[DrainSample]:
        """A system's drains of a configuration; where its default logging is its quiet
        one (no line per job either way), its quiet runs stand for both."""
        if logging == "default" and info.quiet_by_default:
            logging = "quiet"
        return self.drains(info.name, procs, workload, logging)

    def io_tables(self) -> list[str]:
        configs = self.io_configs()
        if not configs:
            return []
        s = self.results.settings
        lines = [
            "## 7. I/O workloads (jobs/s, higher is better; CPU per job, lower is better)",
            "",
            "The same job, doing first: `redis`, one INCR on the benchmark Redis through a "
            "client of its own (Sidekiq: `Sidekiq.redis`); `sleep`, 1 ms (a blocking call); "
            "`sql`, one SELECT by primary key on PostgreSQL through a pooled connection. "
            f"N = {s.get('io_n', s['n']):,} jobs, or fewer for a system whose no-op pace "
            "cannot run that many within the cap (1.5x what it would run); a drain stops "
            f"{s.get('io_drain_cap', s['drain_cap']):.0f} s after spawn. *quiet*: no per-job "
            "log lines, as in figure 1; *default*: each system's own log level (the output "
            "goes to a file). CPU: the workers' CPU seconds (user + system, children reaped "
            "included, from /proc) per 1,000 jobs, from each process's first job to the end "
            "of the drain. Redis's and PostgreSQL's own CPU is not counted.",
            "",
        ]
        for workload, logging in configs:
            lines += self.io_table(workload, logging)
        return lines

    def io_table(self, workload: str, logging: str) -> list[str]:
        header = ["system", "processes", "jobs/s", "CPU s / 1,000 jobs"]
        if workload == "sleep":
            header.append("of the ideal")
        if logging == "default":
            header.append("÷ quiet (jobs/s)")
        header += ["jobs run", f"{self.ratio_head} (jobs/s)", f"{self.ratio_head} (CPU/job)"]
        rows = [
            self.io_row(info, procs, workload, logging)
            for info in self.systems
            for procs in sorted({d.procs for d in self.io_runs(info, None, workload, logging)})
        ]
        return [f"### {workload}, {logging} logging", "", *_table(header, rows), ""]

    def io_row(self, info: SystemInfo, procs: int, workload: str, logging: str) -> list[str]:
        runs = self.io_runs(info, procs, workload, logging)
        base_runs = self.io_runs(self._baseline_info(), procs, workload, logging)
        rate = self._spread(runs, lambda d: d.rate)
        cpu = self._spread(runs, lambda d: d.cpu_per_1000)
        row = [info.name, str(procs), _spread(rate, _count), _spread(cpu, _two)]
        if workload == "sleep":
            ideal = SLEEP_IDEAL_PER_PROCESS * info.slots / 10 * procs
            row.append(_spread(self._spread(runs, lambda d: d.rate / ideal), _percent))
        if logging == "default":
            quiet = self._spread(self.drains(info.name, procs, workload, "quiet"), lambda d: d.rate)
            same = info.quiet_by_default
            row.append("= quiet (same runs)" if same else _ratio(rate, quiet))
        row += [
            _ran(runs),
            self._vs(info, self._spread(base_runs, lambda d: d.rate), rate),
            self._vs(info, self._spread(base_runs, lambda d: d.cpu_per_1000), cpu),
        ]
        return row

    def _baseline_info(self) -> SystemInfo:
        for info in self.results.systems:
            if info.name == self.baseline:
                return info
        return SystemInfo(self.baseline, "", "", None, "", "", [])

    def failures(self) -> list[str]:
        if not self.results.failures:
            return []
        lines = ["## Failures", ""]
        lines += [
            f"- {f.system}, {f.figure}"
            + (f", repeat {f.repeat}" if f.repeat else "")
            + f": {f.message}"
            for f in self.results.failures
        ]
        return [*lines, ""]


def _checks(issue: str, checks: list[Check]) -> list[str]:
    if not checks:
        return []
    rows = [(c.target, c.measured, "met" if c.met else "**not met**") for c in checks]
    return [
        f"## sidequest's targets ({issue})",
        "",
        *_table(("target", "measured (medians)", ""), rows),
        "",
    ]


def _ran(runs: list[DrainSample]) -> str:
    """How many jobs ran: 'all', or how many runs the cap stopped and how far they got."""
    capped = [d for d in runs if d.done < d.target]
    dups = sum(d.duplicates for d in runs)
    ran = "all"
    if capped:
        # Per run, so the figure reads against the backlog, not against it x repeats.
        done = statistics.median(d.done for d in capped)
        target = statistics.median(d.target for d in capped)
        ran = f"{len(capped)} of {len(runs)} capped, ~{done:,.0f} of {target:,.0f}"
    return ran + (f", {dups} duplicate runs" if dups else "")


def _top_commands(runs: list[DrainSample], shown: int = 4) -> str:
    totals: dict[str, int] = {}
    for run in runs:
        for name, calls in run.commands.items():
            totals[name] = totals.get(name, 0) + calls
    done = sum(run.done for run in runs)
    if not done:
        return "—"
    ranked = sorted(totals.items(), key=lambda item: -item[1])[:shown]
    return ", ".join(f"{name.upper()} {calls / done:.2f}" for name, calls in ranked)


def render(results: Results) -> str:
    return Report(results).render()
