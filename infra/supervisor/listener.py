"""supervisord event listener for a worker container (see worker/supervisord.conf).

Two jobs supervisord cannot do by itself:

* PROCESS_STATE_EXITED and PROCESS_STATE_BACKOFF: call prometheus_client's
  `mark_process_dead(pid)`, so the live gauges (`multiprocess_mode="live*"`, e.g.
  busy threads) of a worker that crashed or was SIGKILLed stop counting.
  supervisord has no child-exit hook like gunicorn's. A process that dies before
  `startsecs` goes to BACKOFF, whose event carries no pid, so every event also
  sweeps the directory for live-gauge files of pids that no longer exist (the
  listener shares the container's pid namespace with the workers). Counter and
  histogram files are kept, so totals never go backwards.
* PROCESS_STATE_FATAL: a program that keeps failing to start is given up by
  supervisord, which itself stays up, and the container would look healthy while
  doing nothing. Stop supervisord instead (SIGTERM to our parent): the container
  exits and Compose's `restart: unless-stopped` starts a fresh one.

Protocol (supervisor docs, "Events"): write READY, read one header line of
`key:value` tokens, read `len` bytes of payload, act, answer `RESULT 2\\nOK`.
stdout is the protocol channel, so this module logs to stderr only.
Standard library plus prometheus_client, so it runs from the image's venv as a script.
"""

from __future__ import annotations

import os
import re
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

# prometheus_client names live-gauge files gauge_liveall_<pid>.db, gauge_livesum_<pid>.db...
LIVE_GAUGE_FILE = re.compile(r"^gauge_live[a-z]*_(\d+)\.db$")


def parse_tokens(line: str) -> dict[str, str]:
    """Parse supervisord's `key:value key:value` header and payload lines."""
    tokens: dict[str, str] = {}
    for token in line.split():
        key, _, value = token.partition(":")
        tokens[key] = value
    return tokens


def log(message: str) -> None:
    print(f"procwatch: {message}", file=sys.stderr, flush=True)


def pid_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, owned by someone else
    return True


def mark_dead(pids: set[int]) -> None:
    """Remove the live-gauge files of `pids` and of every pid that no longer exists."""
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if not directory:
        return
    from prometheus_client import multiprocess  # noqa: PLC0415 - only when configured

    mark_process_dead: Callable[[int, str], None] = multiprocess.mark_process_dead
    for path in Path(directory).glob("gauge_live*.db"):
        match = LIVE_GAUGE_FILE.match(path.name)
        if match and not pid_exists(int(match.group(1))):
            pids.add(int(match.group(1)))
    for pid in sorted(pids):
        mark_process_dead(pid, directory)


def handle(event: str, payload: str) -> None:
    fields = parse_tokens(payload.split("\n", 1)[0])
    name = f"{fields.get('groupname', '?')}:{fields.get('processname', '?')}"
    if event in ("PROCESS_STATE_EXITED", "PROCESS_STATE_BACKOFF"):
        pid = fields.get("pid", "")
        mark_dead({int(pid)} if pid.isdigit() else set())
        if fields.get("expected") == "0":
            log(f"{name} (pid {pid}) exited unexpectedly; metrics of that pid marked dead")
    elif event == "PROCESS_STATE_FATAL":
        log(f"{name} could not be started; stopping supervisord so the container restarts")
        os.kill(os.getppid(), signal.SIGTERM)


def serve(stdin: BinaryIO, stdout: BinaryIO) -> None:
    """Answer events until supervisord closes our stdin."""
    while True:
        stdout.write(b"READY\n")
        stdout.flush()
        header_line = stdin.readline()
        if not header_line:
            return
        headers = parse_tokens(header_line.decode())
        payload = stdin.read(int(headers.get("len", "0"))).decode(errors="replace")
        try:
            handle(headers.get("eventname", ""), payload)
        except Exception as exc:  # never let one bad event kill the listener
            log(f"error handling {headers.get('eventname')}: {exc!r}")
        stdout.write(b"RESULT 2\nOK")
        stdout.flush()


def main() -> None:
    serve(sys.stdin.buffer, sys.stdout.buffer)


if __name__ == "__main__":
    main()
