# The commands a person types. `make help` lists them.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
COMPOSE ?= docker compose
N ?= 2

# Debian packages the test suite needs, as command=package pairs: each command must be
# on PATH, or scripts/ensure-system-packages installs its package (as root) or says which.
# Compose v2 is not in bookworm: its plugin comes from Debian's next release (trixie),
# pinned so that nothing else does. Users of Docker's own packages have it already.
TEST_SYSTEM_PACKAGES := \
	redis-server=redis-server \
	redis-sentinel=redis-sentinel \
	openssl=openssl \
	dockerd=docker.io \
	/usr/libexec/docker/cli-plugins/docker-compose=docker-compose/trixie \
	debootstrap=debootstrap \
	kustomize=kustomize/trixie \
	promtool=prometheus \
	chromium=chromium \
	sidekiq=ruby-sidekiq \
	rackup=ruby-rack \
	-=ruby-activejob \
	-=ruby-pg \
	strace=strace

.PHONY: help install dist system-packages test test-compose test-unit lint typecheck fmt dev up down scale logs bench chaos clean

help:
	@echo "make dev        run the whole stack locally, without Docker"
	@echo "make test       set up everything and run every test layer"
	@echo "make test-compose  only the Compose layer: docker-compose.yml up for real, tested, torn down"
	@echo "make up         build and start the Docker Compose stack; make down stops it"
	@echo "make scale N=4  run N worker containers"
	@echo "make logs       follow the Compose stack's logs"
	@echo "make lint       ruff, mypy and the import contracts"
	@echo "make dist       build the sdists and wheels of sidequest and the demo app into dist/"
	@echo "make bench      benchmarks against Sidekiq and the Python peers"
	@echo "make chaos      the long chaos runs: 20,000 jobs and 48,000 periodic ticks under kills, freezes, cuts and a Redis crash"

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# Two distributions, both editable: sidequest (services/pyproject.toml) and the demo app
# sidequest-shop (pyproject.toml), with the tooling's extras. Named together, so that pip
# takes the app's sidequest requirement from services/ rather than from an index.
$(VENV)/.installed: pyproject.toml services/pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e ./services -e '.[test]'
	touch $@

install: $(VENV)/.installed

# What `pip install sidequest` installs, and the demo app's distribution, as sdists and
# wheels (each wheel built from its sdist), checked by twine.
dist: install
	rm -rf dist
	$(BIN)/python -m build --outdir dist services
	$(BIN)/python -m build --outdir dist .
	$(BIN)/twine check --strict dist/*

system-packages:
	@scripts/ensure-system-packages $(TEST_SYSTEM_PACKAGES)

# The Compose layer runs beside the other layers: it spends most of its time waiting on
# Docker (image builds, health checks), and the two share nothing (each test starts its
# own servers on free ports). Its output is printed once both have finished.
test: install system-packages
	@status=0; log=$$(mktemp); \
	$(MAKE) --no-print-directory test-compose >$$log 2>&1 & compose=$$!; \
	$(BIN)/pytest tests --ignore=tests/compose || status=$$?; \
	wait $$compose || status=$$?; \
	echo "=== the Compose layer (make test-compose) ==="; cat $$log; rm -f $$log; \
	$(MAKE) --no-print-directory lint || status=$$?; \
	exit $$status

# The Compose layer: starts Debian's dockerd if no daemon answers (and stops only that
# one afterwards), builds the stand-in and app images, brings docker-compose.yml up as
# the project sidequest-test and runs tests/compose and tests/stack against it; the
# project is always torn down, volumes included.
test-compose: install system-packages
	@scripts/docker-daemon start
	@status=0; SIDEQUEST_STACK=compose $(BIN)/pytest tests/compose tests/stack || status=$$?; \
		scripts/docker-daemon stop; exit $$status

test-unit: install
	$(BIN)/pytest tests/unit

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy services web worker tests infra/supervisor infra/dev infra/offline
	$(BIN)/lint-imports

fmt: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# The whole stack without Docker (infra/dev/): redis-server unless REDIS_URL names a
# running Redis; Prometheus when it can be installed (as root), else the stack runs
# without it after naming the package. Settings: infra/dev/settings.py.
dev: install
	@if [ -z "$$REDIS_URL" ]; then scripts/ensure-system-packages redis-server=redis-server; fi
	@scripts/ensure-system-packages prometheus=prometheus || echo "make dev: going on without Prometheus"
	@exec $(BIN)/python -m infra.dev

# OFFLINE=1: stand-in images built from Debian packages (infra/offline) instead of the
# official ones, for machines that reach no registry; Grafana, which has none, stays off.
ifeq ($(OFFLINE),1)
COMPOSE_ENV := set -a && . infra/offline/images.env && set +a && export DOCKER_BUILDKIT=0
OFFLINE_SERVICES := redis postgres mailpit migrate web worker prometheus
else
COMPOSE_ENV := true
endif

up:
	@if [ "$(OFFLINE)" = 1 ]; then $(PYTHON) -m infra.offline build; fi
	$(COMPOSE_ENV) && $(COMPOSE) up -d --build --wait $(OFFLINE_SERVICES)
	@echo "web         http://localhost:$${WEB_PORT:-8000}  (dashboard: /sidequest)"
	@echo "grafana     http://localhost:$${GRAFANA_PORT:-3000}  (dashboard 'Sidequest overview')"
	@echo "prometheus  http://localhost:$${PROMETHEUS_PORT:-9090}"
	@echo "mailpit     http://localhost:$${MAILPIT_PORT:-8025}"
	@echo "redis       redis://localhost:$${REDIS_PORT:-6380}/0"

down:
	$(COMPOSE) down

scale:
	$(COMPOSE_ENV) && $(COMPOSE) up -d --no-deps --no-recreate --scale worker=$(N) worker

logs:
	$(COMPOSE) logs -f --tail=100

# Benchmarks against Sidekiq and the Python peers (bench/README.md), about 60 minutes.
# BENCH_ARGS=--quick for a 5-minute run, or e.g. BENCH_ARGS="--systems sidequest,sidekiq --figures drain".
bench: install system-packages
	$(BIN)/python -m bench $(BENCH_ARGS)
	$(BIN)/python -m bench.dashboard_pages
	$(BIN)/python -m bench.web_enqueue_latency
	$(BIN)/python -m bench.async_io
	$(BIN)/python -m bench.batches

# The long chaos runs (tests/chaos): jobs (about 4 minutes), periodic ticks (about 5),
# then 1,000 batches of 1-50 jobs; CHAOS_SEED, CHAOS_JOBS, CHAOS_SCHEDULES, CHAOS_DURATION.
chaos: install system-packages
	mkdir -p test-artifacts
	CHAOS_PROFILE=long $(BIN)/pytest tests/chaos/test_chaos_run.py tests/chaos/test_periodic_chaos.py tests/chaos/test_batch_chaos_run.py -s -p no:cacheprovider --basetemp=test-artifacts/chaos

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
