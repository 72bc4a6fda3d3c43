"""`python -m infra.dev` (what `make dev` runs): start the dev stack, stop it on Ctrl-C.

Exit status: 0 after a clean stop, 1 when the stack failed to start or to stop cleanly,
78 (EX_CONFIG) for a malformed setting or a missing prerequisite, with a message naming
it. Settings: infra/dev/settings.py.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

from infra.dev import prometheus_config, supervisor_config
from infra.dev.access import dashboard_access
from infra.dev.launcher import (
    Launcher,
    Probe,
    Supervisor,
    environment_for_supervisord,
    supervisord_binary,
)
from infra.dev.layout import Layout
from infra.dev.preflight import check_ports, find_binaries
from infra.dev.programs import (
    Binaries,
    Program,
    build_programs,
    listen_addresses,
    stack_environment,
)
from infra.dev.settings import DevConfigError, DevSettings

EX_CONFIG = 78


def say(text: str) -> None:
    print(f"make dev: {text}", flush=True)


def shown(path: Path) -> str:
    """`path` relative to the working directory when it is inside it (shorter to read)."""
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def expected_processes(programs: Sequence[Program]) -> list[str]:
    """supervisord's group:name of every process started with the stack."""
    return [name for program in programs if program.autostart for name in program.process_names()]


def local_host(settings: DevSettings) -> str:
    """The address this machine reaches gunicorn at."""
    if settings.web_on_loopback or settings.web_host == "0.0.0.0":
        return "127.0.0.1"
    return settings.web_host


def probes(settings: DevSettings, binaries: Binaries) -> list[Probe]:
    ports = settings.ports
    found = [
        Probe("web", f"http://{local_host(settings)}:{ports.web}/healthz"),
        Probe("worker_metrics", f"http://127.0.0.1:{ports.worker_metrics}/metrics"),
        Probe("mail", f"http://127.0.0.1:{ports.mail}/"),
    ]
    if binaries.prometheus is not None:
        found.append(Probe("prometheus", f"http://127.0.0.1:{ports.prometheus}/-/ready"))
    return found


def prepare_database(
    settings: DevSettings, layout: Layout, environment: Mapping[str, str], python: str
) -> None:
    """Migrate once (web and workers then skip it) and seed a newly created SQLite file.

    Raises:
        RuntimeError: A migration or the seeding failed; the message holds its output.
    """
    own_sqlite = environment["DATABASE_URL"] == f"sqlite:///{layout.database}"
    fresh = own_sqlite and not layout.database.exists()
    say("migrating the database ...")
    _run([python, "-m", "shop.db", "upgrade"], settings, environment)
    if fresh and settings.seed_orders:
        say(f"new database: generating {settings.seed_orders} orders for the reports ...")
        _run(
            [python, "-m", "shop.db", "seed", "--orders", str(settings.seed_orders)],
            settings,
            environment,
        )


def _run(command: list[str], settings: DevSettings, environment: Mapping[str, str]) -> None:
    result = subprocess.run(
        command,
        cwd=settings.root,
        env=dict(environment),
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"`{' '.join(command[1:])}` failed:\n{result.stdout}{result.stderr}")


def ready_message(
    settings: DevSettings,
    layout: Layout,
    binaries: Binaries,
    programs: Sequence[Program],
    environment: Mapping[str, str],
    login: str,
) -> str:
    ports = settings.ports
    web = f"http://{local_host(settings)}:{ports.web}"
    supervisorctl = shown(Path(sys.executable).with_name("supervisorctl"))
    control = f"{supervisorctl} -c {shown(layout.supervisor_config)}"
    lines = [
        f"sidequest dev stack is running (data and logs in {shown(layout.dev_dir)}):",
        f"  shop            {web}/",
        f"  dashboard       {web}/sidequest/  ({login})",
        f"  web metrics     {web}/metrics",
        f"  worker metrics  http://127.0.0.1:{ports.worker_metrics}/metrics  "
        f"({settings.worker_processes} worker processes)",
    ]
    if binaries.prometheus is not None:
        lines.append(f"  prometheus      http://127.0.0.1:{ports.prometheus}/  (alerts: /alerts)")
    else:
        lines.append("  prometheus      not installed (Debian package prometheus)")
    lines += [
        f"  mail            http://127.0.0.1:{ports.mail}/  (SMTP 127.0.0.1:{ports.smtp}; "
        f"files in {shown(layout.mail)})",
        f"  redis           {environment['REDIS_URL']}",
        f"  logs            {shown(layout.logs)}/",
        f"  processes       {control} status",
    ]
    spares = [
        name for program in programs if program.name == "spare" for name in program.process_names()
    ]
    if spares:
        lines.append(f"  more workers    {control} start {' '.join(spares)}")
    # The orders seeded into a new database cover the last year.
    today = datetime.now(UTC).date()
    report = {"kind": "sales_by_day", "from": str(today - timedelta(days=364)), "to": str(today)}
    lines += [
        "Request a report:",
        f"  curl -X POST {web}/api/reports -H 'Content-Type: application/json' "
        f"-d '{json.dumps(report)}'",
        "Ctrl-C stops everything.",
    ]
    return "\n".join(lines)


def main() -> int:
    try:
        settings = DevSettings.from_env(os.environ)
        binaries, notes = find_binaries(settings)
        check_ports(listen_addresses(settings, binaries.prometheus is not None), settings.web_host)
        layout = Layout(settings.dev_dir)
        layout.prepare()
        environment = stack_environment(settings, layout, os.environ, layout.secret_key())
        login = dashboard_access(settings, environment)
    except DevConfigError as error:
        print(f"make dev: error: {error}", file=sys.stderr, flush=True)
        return EX_CONFIG
    for note in notes:
        say(note)
    environment = environment_for_supervisord(environment, settings.root)
    try:
        prepare_database(settings, layout, environment, binaries.python)
    except RuntimeError as error:
        print(f"make dev: error: {error}", file=sys.stderr, flush=True)
        return 1
    programs = build_programs(settings, layout, environment, binaries)
    layout.supervisor_config.write_text(
        supervisor_config.render(programs, layout, directory=str(settings.root))
    )
    if binaries.prometheus is not None:
        layout.prometheus_config.write_text(prometheus_config.render(settings))
    say(f"starting {len(expected_processes(programs))} processes under supervisord ...")
    launcher = Launcher(Supervisor(layout, environment, supervisord_binary()))
    return launcher.run(
        expected_processes(programs),
        probes(settings, binaries),
        settings.start_timeout,
        ready_message(settings, layout, binaries, programs, environment, login),
    )


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        # Ctrl-C before supervisord started (during the migrations): nothing to stop.
        print("\nmake dev: interrupted before the stack started", file=sys.stderr)
        sys.exit(130)
