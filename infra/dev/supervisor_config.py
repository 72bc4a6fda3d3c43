"""The dev stack's supervisord.conf, written from `programs.build_programs`.

It follows worker/supervisord.conf (the container's): nodaemon, worker copies in one
group so they stop in parallel, TERM to the whole process group, the same event
listener. It differs where a developer's machine differs from a container: every
program logs to its own file under DEV_DIR/log (the terminal keeps the URLs readable),
the control socket and pid file live under DEV_DIR/run, and the environment of each
program is spelled out here rather than by an entrypoint.
"""

from __future__ import annotations

import shlex
from collections.abc import Iterable, Mapping

from infra.dev.layout import Layout
from infra.dev.programs import Program

LOG_MAX_BYTES = "10MB"
LOG_BACKUPS = 2


def _escape(text: str) -> str:
    # supervisord expands %(name)s in every value: a literal % is written %%.
    return text.replace("%", "%%")


def _environment(variables: Mapping[str, str]) -> str:
    for key, value in variables.items():
        if '"' in value or "\n" in value:
            raise ValueError(f"{key} cannot be passed through supervisord: {value!r}")
    return ",".join(f'{key}="{_escape(value)}"' for key, value in variables.items())


def _section(program: Program, layout: Layout, directory: str) -> list[str]:
    kind = "eventlistener" if program.listener_events else "program"
    lines = [
        f"[{kind}:{program.name}]",
        f"command={_escape(shlex.join(program.command))}",
        f"directory={_escape(directory)}",
        f"priority={program.priority}",
        f"autostart={'true' if program.autostart else 'false'}",
        "autorestart=true",
        f"startsecs={program.startsecs}",
        "startretries=3",
        "stopsignal=TERM",
        f"stopwaitsecs={program.stopwaitsecs}",
        # TERM (and, after stopwaitsecs, KILL) reach everything the program started:
        # gunicorn's workers, anything a job spawned.
        "stopasgroup=true",
        "killasgroup=true",
    ]
    if program.numbered:
        lines += [
            "process_name=%(program_name)s_%(process_num)02d",
            f"numprocs={program.numprocs}",
        ]
    if program.environment:
        lines.append(f"environment={_environment(program.environment)}")
    log = _escape(str(layout.logs / program.name))
    if program.listener_events:
        # A listener's stdout is the event protocol; it logs to stderr.
        lines += [
            f"events={','.join(program.listener_events)}",
            "stdout_logfile=NONE",
            f"stderr_logfile={log}.log",
        ]
    else:
        suffix = "_%(process_num)02d" if program.numbered else ""
        lines += [
            f"stdout_logfile={log}{suffix}.log",
            "redirect_stderr=true",
        ]
    lines += [
        f"stdout_logfile_maxbytes={LOG_MAX_BYTES}",
        f"stdout_logfile_backups={LOG_BACKUPS}",
    ]
    return lines


def render(programs: Iterable[Program], layout: Layout, directory: str) -> str:
    """supervisord.conf for `programs`; `directory` is where every program runs."""
    header = [
        "; Written by `make dev` (infra/dev/supervisor_config.py) at every start: edits are lost.",
        "[supervisord]",
        "nodaemon=true",
        f"logfile={_escape(str(layout.logs / 'supervisord.log'))}",
        f"logfile_maxbytes={LOG_MAX_BYTES}",
        f"logfile_backups={LOG_BACKUPS}",
        f"pidfile={_escape(str(layout.supervisor_pidfile))}",
        f"childlogdir={_escape(str(layout.logs))}",
        "loglevel=info",
        "",
        "[unix_http_server]",
        f"file={_escape(str(layout.supervisor_socket))}",
        "chmod=0700",
        "",
        "[rpcinterface:supervisor]",
        "supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface",
        "",
        "[supervisorctl]",
        f"serverurl=unix://{_escape(str(layout.supervisor_socket))}",
    ]
    programs = list(programs)
    sections = ["\n".join(_section(program, layout, directory)) for program in programs]
    sections += _groups(programs)
    return "\n".join(header) + "\n\n" + "\n\n".join(sections) + "\n"


def _groups(programs: list[Program]) -> list[str]:
    """[group:x] sections for programs that share a group (a lone program is its own)."""
    members: dict[str, list[Program]] = {}
    for program in programs:
        members.setdefault(program.group, []).append(program)
    sections = []
    for group, grouped in members.items():
        if [program.name for program in grouped] == [group]:
            continue
        priorities = {program.priority for program in grouped}
        if len(priorities) != 1:
            raise ValueError(f"the programs of group {group} need one priority, not {priorities}")
        names = ",".join(program.name for program in grouped)
        sections.append(f"[group:{group}]\nprograms={names}\npriority={priorities.pop()}")
    return sections
