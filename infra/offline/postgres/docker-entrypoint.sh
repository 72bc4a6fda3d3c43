#!/bin/sh
# The official postgres image's entrypoint, as far as docker-compose.yml uses it:
# POSTGRES_USER (default postgres), POSTGRES_PASSWORD (required unless
# POSTGRES_HOST_AUTH_METHOD=trust), POSTGRES_DB (default: the user's name),
# POSTGRES_INITDB_ARGS and POSTGRES_HOST_AUTH_METHOD (default scram-sha-256).
# Files in /docker-entrypoint-initdb.d are not run (the Compose file has none).
set -eu

PGDATA="${PGDATA:-/var/lib/postgresql/data}"
export PGDATA

# `docker run IMAGE -c shared_buffers=256MB`: postgres's arguments.
case "${1:-}" in
    -*) set -- postgres "$@" ;;
esac

if [ "$1" != "postgres" ]; then
    exec "$@"
fi

# Started as root: the data directory (a fresh volume is root's) becomes postgres's,
# then drop to it and start over.
if [ "$(id -u)" = "0" ]; then
    mkdir -p "$PGDATA" /var/run/postgresql
    chown postgres:postgres "$PGDATA" /var/run/postgresql
    chmod 0700 "$PGDATA"
    chmod 2777 /var/run/postgresql
    exec setpriv --reuid=postgres --regid=postgres --init-groups "$0" "$@"
fi

if [ ! -s "$PGDATA/PG_VERSION" ]; then
    user="${POSTGRES_USER:-postgres}"
    database="${POSTGRES_DB:-$user}"
    method="${POSTGRES_HOST_AUTH_METHOD:-scram-sha-256}"
    if [ -z "${POSTGRES_PASSWORD:-}" ] && [ "$method" != "trust" ]; then
        echo "error: the database is uninitialized and POSTGRES_PASSWORD is not set" >&2
        echo "       (set it, or POSTGRES_HOST_AUTH_METHOD=trust to allow every login)" >&2
        exit 1
    fi
    echo "initialising $PGDATA: user $user, database $database"
    password_file="$(mktemp)"
    printf '%s\n' "${POSTGRES_PASSWORD:-}" >"$password_file"
    # C.UTF-8 and UTF8: psycopg decodes text columns (SQL_ASCII would give bytes).
    # shellcheck disable=SC2086
    initdb --username="$user" --pwfile="$password_file" -E UTF8 --locale=C.UTF-8 \
        --auth-local=trust --auth-host="$method" ${POSTGRES_INITDB_ARGS:-} >/dev/null
    rm -f "$password_file"
    printf '\nhost all all all %s\n' "$method" >>"$PGDATA/pg_hba.conf"
    printf "\nlisten_addresses = '*'\n" >>"$PGDATA/postgresql.conf"

    # The database, on a server no other host can reach yet.
    pg_ctl -D "$PGDATA" -o "-c listen_addresses=''" -w start >/dev/null
    if [ "$database" != "postgres" ]; then
        psql -v ON_ERROR_STOP=1 --no-psqlrc --username="$user" --dbname=postgres \
            --set=database="$database" <<'SQL' >/dev/null
CREATE DATABASE :"database";
SQL
    fi
    pg_ctl -D "$PGDATA" -m fast -w stop >/dev/null
    echo "PostgreSQL init process complete; ready for start up."
else
    echo "PostgreSQL database directory appears to contain a database; skipping initialization"
fi

exec "$@"
