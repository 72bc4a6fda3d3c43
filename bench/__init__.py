"""Side-by-side benchmarks of sidequest against Sidekiq and the Python job systems.

Run with ``python -m bench`` (or ``make bench``); see bench/README.md. The package
splits in two halves that never import each other:

- the harness (everything but ``agents``) runs in the project's virtual
  environment: it starts redis-server and the workers, times, and reports;
- ``bench.agents`` runs inside each system's own environment (its jobs module is
  what a worker loads, its driver is what enqueues), so it uses the standard
  library and the system under test only. This file stays import-free because
  every worker of every system imports it on its way to ``bench.agents``.
"""
