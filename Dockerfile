# One image for the web and worker tiers (and the one-shot `migrate` service):
# docker-compose.yml picks the command. Build from the repository root:
#   docker compose build    (or: docker build -t sidequest .)
# No `# syntax=` line: BuildKit would fetch that frontend image from a registry, and
# nothing here needs more than the frontend built into Docker.
# It holds two distributions of this repository, installed as wheels: `sidequest`
# (services/pyproject.toml: the framework, what `pip install sidequest` gives) and
# `sidequest-shop` (pyproject.toml: the demo app's shop, web and worker packages).

# Debian bookworm slim, Python pinned to a patch release; the venv built in the
# first stage is copied into an identical base, so its interpreter symlinks hold.
ARG PYTHON_IMAGE=python:3.11.11-slim-bookworm

# ---------------------------------------------------------------- build stage
FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1
WORKDIR /src
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
# Dependencies first, at the versions of requirements/app.lock (written by
# scripts/lock-app-requirements), so an image built next year holds the same packages
# and a code change reuses this layer. Every one has binary wheels (hiredis,
# psycopg[binary], SQLAlchemy): no compiler is needed.
COPY requirements/app.lock requirements/
RUN pip install --no-cache-dir -r requirements/app.lock
# Then both distributions: a wheel of each (pip fetches their build backend,
# hatchling, into a throw-away environment), installed without letting pip pick any
# other version; `pip check` fails the build when the lock file no longer satisfies
# either pyproject.toml, or the app's pin on sidequest's version.
COPY pyproject.toml README.md ./
COPY services/ services/
COPY web/ web/
COPY worker/ worker/
RUN pip wheel --no-cache-dir --no-deps --wheel-dir /tmp/wheels ./services . \
    && pip install --no-cache-dir --no-deps /tmp/wheels/*.whl \
    && pip check

# -------------------------------------------------------------- runtime stage
FROM ${PYTHON_IMAGE} AS runtime
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PATH=/opt/venv/bin:$PATH \
    PROMETHEUS_MULTIPROC_DIR=/tmp/prometheus-multiproc \
    SUPERVISOR_RUN_DIR=/tmp/supervisor \
    REPORTS_DIR=/var/lib/sidequest/reports \
    WORKER_PROCESSES=2

# An unprivileged user with a fixed uid (a numeric USER also lets Kubernetes
# verify runAsNonRoot). The reports directory is created here, owned by that
# user, so a fresh named volume mounted on it inherits the ownership.
RUN groupadd --system --gid 10001 sidequest \
    && useradd --system --uid 10001 --gid sidequest --home-dir /app \
        --no-create-home --shell /usr/sbin/nologin sidequest \
    && mkdir -p /var/lib/sidequest/reports \
    && chown -R 10001:10001 /var/lib/sidequest

COPY --from=build /opt/venv /opt/venv

# The runtime configuration files, read relative to /app (the working directory):
# gunicorn's config, supervisord.conf, the entrypoint and supervisord's event
# listener. Code comes from the venv (the two wheels), and so does the worker's queue
# file (worker/sidequest.yml, package data; SIDEQUEST_CONFIG names another one).
WORKDIR /app
COPY web/gunicorn.conf.py web/
COPY worker/supervisord.conf worker/
COPY infra/docker/entrypoint.sh infra/docker/
COPY infra/supervisor/listener.py infra/supervisor/

USER 10001:10001
# 8000: gunicorn (web, /metrics included). 9191: merged worker metrics.
EXPOSE 8000 9191
ENTRYPOINT ["/app/infra/docker/entrypoint.sh"]
CMD ["gunicorn", "-c", "web/gunicorn.conf.py", "web.wsgi:app"]
