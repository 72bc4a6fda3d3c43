"""Sidekiq 6.4.1 on Ruby, from Debian's ruby-sidekiq package (and ruby-pg for the sql workload)."""

from __future__ import annotations

from pathlib import Path

from bench.envs import Unavailable, ensure_debian_library, ensure_debian_package, output_of
from bench.systems.base import Launch, Paths, System, Variant, agent_env


class Sidekiq(System):
    name = "sidekiq"
    title = "Sidekiq 6.4.1 (Ruby)"
    concurrency = "10 threads (-c 10)"
    bulk_api = "Sidekiq::Client.push_bulk, 1,000 per call"
    schedule_api = "perform_at: schedule sorted set, poller every 2.5-7.5 s (1 process)"
    # Sidekiq's poller sleeps 10-15 s after boot before its first pass.
    schedule_warmup = 15.0
    notes = (
        "Sidekiq's scheduled-job poller first runs 10-15 s after boot; the scheduled "
        "figure starts 15 s after the worker's first job, to measure its steady pace.",
        "Debian's Sidekiq 6.4.1 with Debian's redis-rb 4.8 (pure-Ruby driver). redis-rb "
        "prints a deprecation warning on every BRPOP Sidekiq makes; the printing is "
        "switched off (Redis.silence_deprecations) so that it is not measured.",
        "I/O workloads: INCR through Sidekiq.redis (Sidekiq's own pool); SELECT through "
        "Debian's ruby-pg with a ConnectionPool of 10 (connection_pool, Sidekiq's "
        "dependency), the statement prepared once per connection.",
    )

    def prepare(self, paths: Paths) -> None:
        log = paths.logs / "install-sidekiq.log"
        ensure_debian_package("sidekiq", "ruby-sidekiq", log)
        try:
            ensure_debian_library("ruby-pg", log)
        except Unavailable as why:
            # Only the sql workload needs it: its drains fail and say so; the rest runs.
            print(f"  sidekiq's sql workload will fail: {why}", flush=True)

    def _agent(self, paths: Paths, name: str) -> str:
        return str(paths.bench / "agents" / name)

    def worker(self, paths: Paths, redis_url: str, record: Path, variant: Variant) -> Launch:
        # Logging is set in sidekiq_jobs.rb from BENCH_LOGGING: the CLI has no level switch.
        argv = ["sidekiq", "-r", self._agent(paths, "sidekiq_jobs.rb"), "-c", "10", "-q", "default"]
        return Launch(argv, self.worker_env(paths, redis_url, record, variant))

    def producer(self, paths: Paths, redis_url: str) -> Launch:
        return Launch(
            ["ruby", self._agent(paths, "sidekiq_driver.rb")], agent_env(paths, redis_url)
        )

    def versions(self, paths: Paths) -> dict[str, str]:
        script = (
            'require "sidekiq"; require "redis"; '
            'puts "Ruby #{RUBY_VERSION}p#{RUBY_PATCHLEVEL}"; '
            'puts "sidekiq #{Sidekiq::VERSION}"; puts "redis-rb #{Redis::VERSION}"; '
            'begin; require "pg"; puts "pg #{PG::VERSION}"; rescue LoadError; end'
        )
        lines = output_of(["ruby", "-e", script]).splitlines()
        return dict(line.split(" ", 1) for line in lines if " " in line)
