"""Validation of the deployment files: Compose, Dockerfile, supervisord, Prometheus, Grafana.

Docker cannot run on our machines, so each file is checked by the real tool that
understands it (docker-compose config, hadolint, promtool, supervisor, redis-server).
A missing tool fails the test with the package to install, it never skips.
"""
