"""Code that runs inside each benchmarked system's own environment.

Every module here imports only the standard library, the system it serves,
``bench.agents.record`` and ``bench.agents.workload`` (which imports redis-py
or psycopg only when the drain's workload needs them): a worker of system X
loads ``bench.agents.X_jobs`` and nothing of the harness.
"""
