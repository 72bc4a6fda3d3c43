#!/bin/sh
# Entrypoint of the sidequest image (web, worker and migrate services): prepares
# the per-container runtime directories, then replaces itself with the command
# (exec), so the command gets the signals `docker stop` sends.
set -eu

# prometheus_client multiprocess mode keeps one file per process, named by pid.
# Inside a container pids start again from 1 on every start, so files left from
# the previous run would be merged into the new processes' values: empty the
# directory before gunicorn or supervisord starts any process.
multiproc_dir="${PROMETHEUS_MULTIPROC_DIR:?PROMETHEUS_MULTIPROC_DIR must name a directory}"
case "$multiproc_dir" in
    /|/tmp|/app) echo "entrypoint: refusing to empty PROMETHEUS_MULTIPROC_DIR=$multiproc_dir" >&2; exit 64 ;;
esac
mkdir -p "$multiproc_dir"
find "$multiproc_dir" -mindepth 1 -delete

# worker/supervisord.conf expands these; defaults for a plain `docker run`.
export WORKER_PROCESSES="${WORKER_PROCESSES:-2}"
export SUPERVISOR_RUN_DIR="${SUPERVISOR_RUN_DIR:-/tmp/supervisor}"
mkdir -p "$SUPERVISOR_RUN_DIR"

exec "$@"
