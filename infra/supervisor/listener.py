"""supervisord event listener for a worker container (see worker/supervisord.conf).

Two jobs supervisord cannot do by itself:

* PROCESS_STATE_EXITED: call prometheus_client's `mark_process_dead(pid)`, so the
  live gauges (`multiprocess_mode="live*"`, e.g. busy threads) of a worker that
  crashed or was SIGKILLed stop counting. supervisord has no child-exit hook like
  gunicorn's. Counter and histogram files are kept, so totals never go backwards.
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
import signal
import sys
from typing import BinaryIO


def parse_tokens(line: str) -> dict[str, str]:
    """Parse supervisord's `key:value key:value` header and payload lines."""
    tokens: dict[str, str] = {}
    for token in line.split():
        key, _, value = token.partition(":")
        tokens[key] = value
    return tokens


def log(message: str) -> None:
    print(f"procwatch: {message}", file=sys.stderr, flush=True)


def mark_dead(pid: int) -> None:
    """Remove the live-gauge files of `pid` from the multiprocess directory."""
    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        return
    from prometheus_client import multiprocess  # noqa: PLC0415 - only when configured

    multiprocess.mark_process_dead(pid)


def handle(event: str, payload: str) -> None:
    fields = parse_tokens(payload.split("\n", 1)[0])
    name = f"{fields.get('groupname', '?')}:{fields.get('processname', '?')}"
    if event == "PROCESS_STATE_EXITED" and fields.get("pid", "").isdigit():
        mark_dead(int(fields["pid"]))
        if fields.get("expected") == "0":
            log(f"{name} (pid {fields['pid']}) exited unexpectedly; metrics of that pid marked dead")
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
