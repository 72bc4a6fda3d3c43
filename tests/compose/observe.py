"""What the Compose tests read off the running stack: container state, job runs, bursts.

Job runs come from the workers' own logs (the stack runs with LOG_FORMAT=json): every
job start and finish is one JSON line with its jid, so the lines of each container say
which jobs ran there, and how often.
"""

from __future__ import annotations

import json
import re
import subprocess
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from tests.compose.project import ComposeProject
from tests.stack.clients import Shop


def docker(*args: str, timeout: float = 120, check: bool = True) -> str:
    """A docker command's standard output; a failure (unless `check` is off) shows its
    standard error."""
    result = subprocess.run(
        ["docker", *args], capture_output=True, text=True, timeout=timeout, check=False
    )
    if check and result.returncode != 0:
        raise AssertionError(f"docker {' '.join(args)}: {result.returncode} {result.stderr}")
    return result.stdout


def inspect(container: str) -> dict[str, Any]:
    document: list[dict[str, Any]] = json.loads(docker("inspect", container))
    return document[0]


@dataclass
class JobRuns:
    """The job starts and finishes one container's log shows, by jid."""

    started: Counter[str] = field(default_factory=Counter)
    finished: Counter[str] = field(default_factory=Counter)

    def unfinished(self) -> set[str]:
        """Jobs started here more often than they finished here (in flight at a kill)."""
        return {jid for jid, count in self.started.items() if count > self.finished[jid]}


def job_runs(container: str) -> JobRuns:
    """Parse a worker container's JSON log lines (its earlier lives' included)."""
    result = subprocess.run(
        ["docker", "logs", container], capture_output=True, text=True, timeout=120, check=True
    )
    runs = JobRuns()
    for line in (result.stdout + result.stderr).splitlines():
        if not line.startswith("{"):
            continue  # supervisord's own lines
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue  # a line cut short by a SIGKILL
        event, jid = record.get("event"), record.get("jid")
        if event == "start":
            runs.started[jid] += 1
        elif event == "finish":
            runs.finished[jid] += 1
    return runs


def all_job_runs(containers: list[str]) -> dict[str, JobRuns]:
    return {container: job_runs(container) for container in containers}


def signup_burst(shop: Shop, prefix: str, signups: int, *, tolerate_503: bool = False) -> list[str]:
    """Sign `signups` users up at once (8 clients); returns the jids of the accepted ones'
    jobs (3 each: the welcome mail, the default preferences, the admin's notice).

    `tolerate_503`: a signup refused because Redis is away (503, nothing kept) is left out
    instead of failing the burst.
    """

    def sign_up(number: int) -> list[str]:
        answer = shop.request(
            "POST", "/api/signups", {"email": f"{prefix}-{number}@stack.test", "name": "Burst"}
        )
        if tolerate_503 and answer.status == 503:
            return []
        assert answer.status == 202, answer.body
        jobs: dict[str, str] = answer.json()["jobs"]
        return list(jobs.values())

    with ThreadPoolExecutor(max_workers=8) as pool:
        return [jid for jids in pool.map(sign_up, range(signups)) for jid in jids]


@dataclass(frozen=True)
class SignupOutcome:
    users: int
    preferences: int
    welcomes_sent: int
    notices_sent: int

    def complete(self, signups: int) -> bool:
        return self == SignupOutcome(signups, signups, signups, signups)


def signup_outcome(project: ComposeProject, prefix: str) -> SignupOutcome:
    """What the signups whose addresses start with `prefix` led to, read from PostgreSQL:
    their preferences rows and their two mails marked sent (each job's lasting effect)."""
    # psql does not interpolate variables into -c, and the prefix is the test's own.
    assert re.fullmatch(r"[a-z0-9-]+", prefix), prefix
    like = f"'{prefix}-%'"
    query = (
        f"SELECT (SELECT count(*) FROM users WHERE email LIKE {like}),"
        " (SELECT count(*) FROM preferences JOIN users ON users.id = preferences.user_id"
        f"  WHERE users.email LIKE {like}),"
        f" (SELECT count(*) FROM mail_deliveries WHERE recipient LIKE {like}"
        "  AND sent_at IS NOT NULL),"
        f" (SELECT count(*) FROM mail_deliveries WHERE subject LIKE '%<' || {like} || '>'"
        "  AND sent_at IS NOT NULL)"
    )
    user = project.env.get("POSTGRES_USER", "sidequest")
    database = project.env.get("POSTGRES_DB", "sidequest")
    result = project.run(
        "exec", "-T", "postgres", "psql", "-U", user, "-d", database, "-tA", "-F", " ",
        "-c", query, timeout=60,
    )  # fmt: skip
    users, preferences, welcomes, notices = (int(n) for n in result.stdout.split())
    return SignupOutcome(users, preferences, welcomes, notices)
