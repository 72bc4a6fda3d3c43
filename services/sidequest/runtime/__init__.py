"""The worker process: one Launcher owning a fetcher, processor threads, a scheduler,
queue waiters, a heartbeat and a watchdog. See launcher.py for the lifecycle.

Roles, one per module: launcher, manager (processor threads), executor (one job),
fetcher (exchanges with Redis), landing (jobs the waiters landed), waiter, scheduler,
periodic (publishing the periodic schedules at start, firing their ticks on the
scheduler thread), heartbeat, recovery (dead processes' jobs), watchdog (timeouts).
Their Redis commands are in store/, one gateway per role (periodic jobs' in
sidequest/periodic_jobs/store.py); backoff.py is how each retries Redis.
"""
