"""`make dev`: the whole sidequest stack on this machine, without Docker.

`python -m infra.dev` (what `make dev` runs, from the checkout) prepares DEV_DIR
(default var/dev: SQLite database, reports, mail, Prometheus data, log files, an
emptied PROMETHEUS_MULTIPROC_DIR per tier), migrates the database once, then runs one
supervisord in the foreground with redis-server (unless REDIS_URL is set), gunicorn
with the web app and the dashboard, WORKER_PROCESSES worker processes, the worker
metrics exporter, Prometheus (when installed) and a mail sink. It prints every URL
once the stack answers; Ctrl-C or SIGTERM stops everything.

Modules, one role each:
    settings           the environment variables the launcher reads, validated
    layout             the files and directories under DEV_DIR
    programs           what supervisord runs (commands, environments, stop budget)
    supervisor_config  programs -> supervisord.conf text
    prometheus_config  the dev Prometheus' scrape config
    preflight          binaries and free ports, checked before anything starts
    processes          finding what is left of a process session
    launcher           supervisord in the foreground: readiness, URLs, clean stop
    mailbox, mailsink  the dev mail sink (SMTP in, .eml files, a page and an API out)
"""
