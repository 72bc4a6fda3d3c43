"""The processes of one session, read from /proc (the dev stack runs on Linux).

supervisord is started as the leader of a new session, and everything it starts
(gunicorn and its workers, worker processes, redis-server, Prometheus, what jobs
spawn) stays in that session unless it calls setsid itself, which none of them do.
So "nothing is left" after a stop means: no process has that session id any more.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from pathlib import Path

PROC = Path("/proc")


def session_of(pid: int) -> int | None:
    """The session id of `pid`, or None when it is gone (or a zombie being reaped)."""
    try:
        stat = (PROC / str(pid) / "stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    # The command name (2nd field) is in parentheses and may hold spaces: split after it.
    fields = stat[stat.rindex(")") + 2 :].split()
    if fields[0] == "Z":
        return None
    return int(fields[3])


def session_members(session: int) -> list[int]:
    """Pids of the living processes of `session`."""
    members = []
    for entry in PROC.iterdir():
        if entry.name.isdigit() and session_of(int(entry.name)) == session:
            members.append(int(entry.name))
    return sorted(members)


def describe(pid: int) -> str:
    try:
        command = (PROC / str(pid) / "cmdline").read_bytes().replace(b"\0", b" ").strip()
    except (FileNotFoundError, ProcessLookupError):
        return f"{pid} (gone)"
    return f"{pid} {command.decode(errors='replace')}"


def end_session(session: int, grace: float = 5.0) -> list[str]:
    """TERM, then KILL, whatever is left of `session`; returns what was found left."""
    left = session_members(session)
    found = [describe(pid) for pid in left]
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for pid in left:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)
        deadline = time.monotonic() + grace
        while left and time.monotonic() < deadline:
            time.sleep(0.05)
            left = session_members(session)
        if not left:
            break
    return found
