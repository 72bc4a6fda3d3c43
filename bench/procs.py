"""Every process the suite starts, and the guarantee that none outlives it.

Each child runs in its own session (so a Ctrl-C in the terminal reaches the
harness only, which then stops the children in order) and is asked by the
kernel to die with the harness (PR_SET_PDEATHSIG), in case the harness itself
is killed with SIGKILL. Stopping a child signals its whole process group,
because several systems fork helpers (Dramatiq's worker processes, RQ's work
horses and scheduler).
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import os
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import FrameType

_PR_SET_PDEATHSIG = 1
_live: dict[int, subprocess.Popen[bytes]] = {}
# Process groups started and not yet stopped, one per line: what a harness killed
# with SIGKILL leaves behind (the kernel's death signal reaches only direct
# children), for the next run to reap. Set by track_groups().
_ledger: Path | None = None
# A process is ours only if its command line names one of these.
_MARKERS = (b"bench.agents", b"/bench/agents/", b"/bench/.work/")


def _die_with_parent() -> None:
    # Runs in the child between fork and exec.
    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


def spawn(
    argv: Sequence[str],
    *,
    env: Mapping[str, str],
    cwd: Path,
    log: Path,
) -> subprocess.Popen[bytes]:
    """Start argv with stdout and stderr appended to log; tracked until stopped."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as out:
        process = subprocess.Popen(
            list(argv),
            env=dict(env),
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=_die_with_parent,  # noqa: PLW1509 - the harness is single-threaded
        )
    _live[process.pid] = process
    _write_ledger()
    return process


def _write_ledger() -> None:
    if _ledger is not None:
        _ledger.write_text(f"harness {os.getpid()}\n" + "".join(f"{pid}\n" for pid in _live))


class AlreadyRunning(RuntimeError):
    pass


def track_groups(ledger: Path) -> int:
    """Reap groups an earlier, killed run left behind; then record ours in ledger.

    Returns how many stale processes were killed. Raises AlreadyRunning when the
    run that wrote the ledger is still alive: two benchmarks sharing two cores
    would spoil each other's figures anyway.
    """
    global _ledger
    killed = 0
    if ledger.exists():
        lines = ledger.read_text().splitlines()
        owner = int(lines[0].split()[1]) if lines and lines[0].startswith("harness ") else 0
        if owner and owner != os.getpid() and _is_harness(owner):
            raise AlreadyRunning(f"another benchmark run (pid {owner}) is in progress")
        stale = {int(line) for line in lines if line.isdigit()}
        for info in list_processes():
            if info.pgrp in stale and _is_ours(info.pid):
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(info.pid, signal.SIGKILL)
                    killed += 1
    ledger.parent.mkdir(parents=True, exist_ok=True)
    _ledger = ledger
    _write_ledger()
    return killed


def _is_harness(pid: int) -> bool:
    try:
        return b"bench" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False


def _is_ours(pid: int) -> bool:
    # Group ids are reused: kill only processes whose command line is the suite's.
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    return any(marker in cmdline for marker in _MARKERS)


def _signal_group(pgid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def stop(process: subprocess.Popen[bytes], *, grace: float = 5.0) -> None:
    """SIGTERM the child's group, SIGKILL it after grace seconds, reap the child."""
    stop_many([process], grace=grace)


def stop_many(processes: list[subprocess.Popen[bytes]], *, grace: float = 5.0) -> None:
    """stop() for several children at once: all get SIGTERM, then one shared grace period."""
    for process in processes:
        if process.poll() is None:
            _signal_group(process.pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    for process in processes:
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=max(deadline - time.monotonic(), 0.01))
    for process in processes:
        # Helpers of a group may outlive its leader: kill whatever is left.
        _signal_group(process.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=5)
        _wait_group_gone(process.pid)
        _live.pop(process.pid, None)
    _write_ledger()


def _wait_group_gone(pgid: int, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while pgid in {info.pgrp for info in list_processes()} and time.monotonic() < deadline:
        time.sleep(0.02)


def stop_all() -> None:
    """Stop every tracked child: workers and producers first, Redis (the oldest) last."""
    children = list(_live.values())
    stop_many(children[1:], grace=3.0)
    stop_many(children[:1], grace=3.0)


def run(
    argv: Sequence[str],
    *,
    env: Mapping[str, str],
    cwd: Path,
    log: Path,
    timeout: float,
) -> str:
    """Run a short-lived child to completion; return its stdout, raise on failure.

    stderr goes to the log; stdout is captured (it carries the driver's JSON).
    """
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as err:
        process = subprocess.Popen(
            list(argv),
            env=dict(env),
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=err,
            start_new_session=True,
            preexec_fn=_die_with_parent,  # noqa: PLW1509 - the harness is single-threaded
        )
        _live[process.pid] = process
        _write_ledger()
        try:
            out, _ = process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired as exc:
            stop(process, grace=1.0)
            raise RuntimeError(f"{argv[0]} timed out after {timeout:.0f} s; see {log}") from exc
        finally:
            if process.poll() is not None:
                _live.pop(process.pid, None)
                _write_ledger()
    if process.returncode != 0:
        raise RuntimeError(f"{' '.join(argv[:4])} … exited {process.returncode}; see {log}")
    return out.decode()


class ProcInfo:
    """One line of /proc: the fields the suite needs."""

    __slots__ = ("cpu_ticks", "pgrp", "pid", "session")

    def __init__(self, pid: int, pgrp: int, session: int, cpu_ticks: int) -> None:
        self.pid = pid
        self.pgrp = pgrp
        self.session = session
        # utime + stime + cutime + cstime: its own CPU and that of the children it
        # reaped (RQ's work horses), in clock ticks.
        self.cpu_ticks = cpu_ticks


def list_processes() -> list[ProcInfo]:
    found: list[ProcInfo] = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            stat = Path(entry.path, "stat").read_text()
        except OSError:
            continue
        # The command name may hold spaces and parentheses: split after the last ')'.
        # fields[0] is stat's field 3 (state); utime..cstime are fields 14-17.
        fields = stat.rsplit(")", 1)[1].split()
        ticks = sum(int(value) for value in fields[11:15])
        found.append(ProcInfo(int(entry.name), int(fields[2]), int(fields[3]), ticks))
    return found


CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def session_cpu(session_ids: Sequence[int]) -> dict[int, float]:
    """CPU seconds used so far by every process of each session, children reaped included.

    A process that exited and was reaped by another of the session is in that
    one's cutime/cstime; a helper that exited unreaped is lost, which none of the
    benchmarked systems leaves behind while it runs.
    """
    wanted = set(session_ids)
    ticks = dict.fromkeys(wanted, 0)
    for info in list_processes():
        if info.session in wanted:
            ticks[info.session] += info.cpu_ticks
    return {session: count / CLOCK_TICKS for session, count in ticks.items()}


def _kb_field(path: Path, name: str) -> int:
    try:
        for line in path.read_text().splitlines():
            if line.startswith(name + ":"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def session_memory(session_ids: Sequence[int]) -> tuple[int, int, int]:
    """(RSS bytes, PSS bytes, process count) summed over every process in these sessions.

    RSS counts pages shared between a parent and its forked helpers once per
    process; PSS splits them, so it is the fairer sum for forking systems.
    """
    wanted = set(session_ids)
    rss = pss = count = 0
    for info in list_processes():
        if info.session in wanted:
            count += 1
            rss += _kb_field(Path(f"/proc/{info.pid}/status"), "VmRSS")
            pss += _kb_field(Path(f"/proc/{info.pid}/smaps_rollup"), "Pss")
    return rss, pss, count


class Interrupted(BaseException):
    """Raised in the harness on SIGTERM/SIGHUP, so that cleanup runs as on Ctrl-C."""


def _on_signal(signum: int, frame: FrameType | None) -> None:
    raise Interrupted(signal.Signals(signum).name)


def install_cleanup() -> None:
    """Stop all children at exit, and turn SIGTERM/SIGHUP into an exception."""
    atexit.register(stop_all)
    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGHUP, _on_signal)
