#!/bin/sh
# The official redis image's entrypoint, as far as docker-compose.yml uses it.
set -eu

# `docker run IMAGE --port 6380` or `... /path/redis.conf`: redis-server's arguments.
case "${1:-}" in
    -* | *.conf) set -- redis-server "$@" ;;
esac

# Started as root: /data (a fresh or an old volume) becomes redis's, then drop to it.
if [ "$1" = "redis-server" ] && [ "$(id -u)" = "0" ]; then
    find . \! -user redis -exec chown redis:redis '{}' +
    exec setpriv --reuid=redis --regid=redis --init-groups "$0" "$@"
fi

# New files readable by redis only (the official image does the same).
um="$(umask)"
if [ "$um" = "0022" ]; then
    umask 0077
fi

exec "$@"
