"""The worker process: one Launcher owning a fetcher, processor threads, a scheduler,
queue waiters, a heartbeat and a watchdog. See launcher.py for the lifecycle."""
