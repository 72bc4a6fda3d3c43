"""Code that runs inside each benchmarked system's own environment.

Every module here imports only the standard library, the system it serves, and
``bench.agents.record``: a worker of system X loads ``bench.agents.X_jobs`` and
nothing of the harness.
"""
