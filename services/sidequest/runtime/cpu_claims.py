"""`cpus: auto`: each worker process on a host gets a CPU of its own, while they fit.

Why: a worker's threads hand the GIL to each other at every blocking call (a Redis
reply, a SQL row, a log line). Left to roam, the kernel wakes the next thread on
another core each time, and those cross-core wake-ups cost more than the jobs; on a
core of its own a process ran about 1.5 times as many jobs that each make one Redis
call (bench/README.md). It costs some start latency at low load: a job handed from
the thread that received it to a processor on the same core waits for the first to
block. Pinning is only right when every worker process gets its own core:
two processes on one CPU would share it while another core idles. So a process pins
itself only while the host's worker processes are no more than its CPUs, and lets go
as soon as one more starts.

How processes find each other without a coordinator: lock files in one directory on
the host (/dev/shm, or the temporary directory). A process claims CPU n by holding an
exclusive flock on `cpu-<n>.lock`; one that finds every CPU taken holds a lock on a
`waiting-<pid>.lock` of its own. The kernel drops a dead process's locks, so a SIGKILL
frees its CPU at once and leaves nothing to clean up but a file, reused by the next.
Every CHECK_SECONDS each process looks again: a waiting process tries to claim a CPU
that came free, and a pinned one unpins while anyone waits.

Inside a container the directory is the container's own, so processes of other
containers on the same host are invisible: auto pins there only when `cpu_claims`
names a directory that every worker container of the host mounts. A cpuset is no proof
of ownership: Compose replicas given the same cpuset would all claim its first CPU.

Tasks:
1. decide at start whether auto pinning applies here, and say why not when it does not
2. claim a CPU, or wait for one; pin or unpin every thread accordingly
3. look again periodically; release the claim at exit
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import tempfile
import threading
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path

from sidequest.runtime import affinity

logger = logging.getLogger("sidequest")

CHECK_SECONDS = 2.0
_DIRECTORY_NAME = "sidequest-cpus"


def default_directory() -> Path:
    """One per host and user: processes of one host see each other there."""
    base = Path("/dev/shm")
    if not base.is_dir() or not os.access(base, os.W_OK):
        base = Path(tempfile.gettempdir())
    return base / f"{_DIRECTORY_NAME}-{os.getuid()}"


def in_container() -> bool:
    """Whether this process runs in a PID namespace of its own, as containers do.

    The kernel's thread creator, kthreadd, is PID 2 on every Linux host and virtual
    machine, and invisible from inside a PID namespace. Marker files (/.dockerenv) would
    be weaker evidence: images built from containers keep them when booted as VMs.
    """
    try:
        return Path("/proc/2/comm").read_text().strip() != "kthreadd"
    except OSError:
        return True


def why_not_auto(allowed: Sequence[int], directory_chosen: bool) -> str | None:
    """Why `cpus: auto` must not pin this process, or None when it may.

    `directory_chosen`: the claims directory was set (`cpu_claims`), so whoever set it
    decided which processes share out the CPUs, containers or not.
    """
    if not hasattr(os, "sched_setaffinity"):
        return "this platform cannot pin a process to CPUs"
    if len(allowed) < 2:
        return "the process may use one CPU only"
    if not directory_chosen and in_container():
        return (
            "in a container, whose neighbours' worker processes are invisible from here; "
            "mount one host directory into every worker container and name it in cpu_claims"
        )
    return None


class CpuClaims:
    """The lock files through which the host's worker processes share out its CPUs."""

    def __init__(self, directory: Path, cpus: Sequence[int]):
        self.directory = directory
        # The last CPUs first: CPU 0 usually takes more of the machine's interrupts.
        self.cpus = sorted(cpus, reverse=True)
        self.cpu: int | None = None
        self._cpu_fd: int | None = None
        self._waiting_fd: int | None = None
        self._waiting_path = directory / f"waiting-{os.getpid()}-{uuid.uuid4().hex[:8]}.lock"

    def claim(self) -> int | None:
        """Our CPU: one held already, or the first free one claimed now; None if none is."""
        if self.cpu is not None:
            return self.cpu
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        for cpu in self.cpus:
            fd = os.open(self.directory / f"cpu-{cpu}.lock", os.O_RDWR | os.O_CREAT, 0o600)
            if _try_lock(fd, fcntl.LOCK_EX):
                self.cpu, self._cpu_fd = cpu, fd
                self._stop_waiting()
                return cpu
            os.close(fd)
        self._start_waiting()
        return None

    def others_waiting(self) -> bool:
        """Whether another live process waits for a CPU (there are more processes than CPUs)."""
        try:
            names = os.listdir(self.directory)
        except OSError:
            return False
        for name in names:
            if not name.startswith("waiting-") or self.directory / name == self._waiting_path:
                continue
            path = self.directory / name
            try:
                fd = os.open(path, os.O_RDONLY)
            except OSError:
                continue  # removed meanwhile
            try:
                if not _try_lock(fd, fcntl.LOCK_SH):
                    return True  # its owner holds it: alive and waiting
                with contextlib.suppress(OSError):
                    path.unlink()  # its owner died: the file is left over
            finally:
                os.close(fd)
        return False

    def release(self) -> None:
        self._stop_waiting()
        if self._cpu_fd is not None:
            os.close(self._cpu_fd)  # closing drops the lock; the file stays for the next
            self._cpu_fd = self.cpu = None

    def _start_waiting(self) -> None:
        if self._waiting_fd is not None:
            return
        # Locked under a temporary name, then renamed: a file that appears under its
        # waiting- name is always locked, so nobody mistakes it for a dead one.
        temporary = self.directory / f".{self._waiting_path.name}.new"
        fd = os.open(temporary, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o600)
        fcntl.flock(fd, fcntl.LOCK_EX)
        os.replace(temporary, self._waiting_path)
        self._waiting_fd = fd

    def _stop_waiting(self) -> None:
        if self._waiting_fd is None:
            return
        with contextlib.suppress(OSError):
            self._waiting_path.unlink()
        os.close(self._waiting_fd)
        self._waiting_fd = None


def _try_lock(fd: int, mode: int) -> bool:
    try:
        fcntl.flock(fd, mode | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


class AutoPin:
    """Keeps this process pinned to its claimed CPU while the host's workers fit."""

    def __init__(
        self,
        claims: CpuClaims,
        allowed: Sequence[int],
        pin: Callable[[tuple[int, ...]], None] = affinity.run_on,
    ):
        self.claims = claims
        self.allowed = tuple(sorted(allowed))
        self._pin = pin
        self.pinned_to: int | None = None
        self._checked = False
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name="sidequest-cpus", daemon=True)

    @classmethod
    def start_if_possible(cls, directory: str = "") -> AutoPin | None:
        """Pin now if auto pinning applies here, and keep looking; None when it does not.

        `directory`: where the claims are shared ("" for the host's default).
        """
        allowed = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
        reason = why_not_auto(allowed, directory_chosen=bool(directory))
        if reason is not None:
            logger.info("cpus: auto: not pinning: %s", reason)
            return None
        claims = CpuClaims(Path(directory) if directory else default_directory(), allowed)
        auto = cls(claims, allowed)
        try:
            auto.check()
        except OSError as error:
            # A read-only /dev/shm, a cpuset changed under us: run unpinned, as before.
            logger.warning("cpus: auto: not pinning: %s", error)
            auto.claims.release()
            return None
        auto._thread.start()
        return auto

    def check(self) -> None:
        """Claim a CPU if we have none, then pin to it, or unpin while others wait."""
        cpu = self.claims.claim()
        target = cpu if cpu is not None and not self.claims.others_waiting() else None
        if target == self.pinned_to and self._checked:
            return
        self._checked = True
        if target is None:
            self._pin(self.allowed)
            logger.info(
                "cpus: auto: not pinned: this host runs more worker processes than its %d "
                "CPUs (%s)",
                len(self.allowed),
                "waiting for one" if cpu is None else f"CPU {cpu} kept for later",
            )
        else:
            self._pin((target,))
            logger.info(
                "cpus: auto: pinned to CPU %d (a core of its own; `cpus: off` turns this off)",
                target,
            )
        self.pinned_to = target

    def stop(self) -> None:
        self._stopped.set()
        if self._thread.is_alive():
            self._thread.join(1.0)
        self.claims.release()

    def _run(self) -> None:
        while not self._stopped.wait(CHECK_SECONDS):
            try:
                self.check()
            except OSError as error:
                logger.warning("cpus: auto: %s", error)
