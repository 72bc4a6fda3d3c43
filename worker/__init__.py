"""The worker tier: the entry point that runs sidequest workers for the shop's jobs.

`python -m worker` runs one worker process; `python -m worker.metrics` serves the merged
Prometheus metrics of every worker process on this host; `python -m worker.healthcheck`
exits 0 while this host's workers beat. supervisord (worker/supervisord.conf) runs
WORKER_PROCESSES copies of the first next to one of the second.
"""
