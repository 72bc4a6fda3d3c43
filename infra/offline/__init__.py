"""Stand-in images for running docker-compose.yml where no registry can be reached.

`python -m infra.offline build [--force]` builds, from Debian bookworm packages only,
one image for each official image the Compose file pulls, behaving like it as far as
docker-compose.yml uses it (command, entrypoint, environment, health check, volumes,
user):

    sidequest-offline/python:3.11-bookworm    for python:3.11.11-slim-bookworm
    sidequest-offline/redis:7-bookworm        for redis:7.2.5-alpine
    sidequest-offline/postgres:15-bookworm    for postgres:16.4-alpine
    sidequest-offline/prometheus:2-bookworm   for prom/prometheus:v2.53.2
    sidequest-offline/mailcatcher:bookworm    for axllent/mailpit:v1.20.4

The python image is a debootstrap minbase imported with `docker import`; the others
are built on it from the Dockerfiles under infra/offline/<name>/. Each image carries a
label with the hash of its inputs, and a build skips an image whose label matches.
infra/offline/images.env holds the variables that point the Compose file at them.
Grafana has no Debian package, so it has no stand-in.

Modules, one role each:
    apt_sources   the mirror and apt sources taken from this machine's apt configuration
    certificates  the host's extra CA certificates, found by comparing PEM bundles
    recipe        the input hash of an image (files, build script, base)
    images        what is built: tags, directories, bases, extra files
    docker        the docker CLI calls (inspect, build, import, remove)
    rootfs        debootstrap, the root file system's customisation, `docker import`
    builder       one image at a time: cached or built, with its timing line
"""
