"""Sidekiq 6.4.1 on Ruby, from Debian's ruby-sidekiq package."""

from __future__ import annotations

from pathlib import Path

from bench.envs import ensure_debian_package, output_of
from bench.systems.base import Launch, Paths, System, agent_env


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
    )

    def prepare(self, paths: Paths) -> None:
        ensure_debian_package("sidekiq", "ruby-sidekiq", paths.logs / "install-sidekiq.log")

    def _agent(self, paths: Paths, name: str) -> str:
        return str(paths.bench / "agents" / name)

    def worker(self, paths: Paths, redis_url: str, record: Path) -> Launch:
        argv = ["sidekiq", "-r", self._agent(paths, "sidekiq_jobs.rb"), "-c", "10", "-q", "default"]
        return Launch(argv, agent_env(paths, redis_url, record))

    def producer(self, paths: Paths, redis_url: str) -> Launch:
        return Launch(
            ["ruby", self._agent(paths, "sidekiq_driver.rb")], agent_env(paths, redis_url)
        )

    def versions(self, paths: Paths) -> dict[str, str]:
        script = (
            'require "sidekiq"; require "redis"; '
            'puts "Ruby #{RUBY_VERSION}p#{RUBY_PATCHLEVEL}"; '
            'puts "sidekiq #{Sidekiq::VERSION}"; puts "redis-rb #{Redis::VERSION}"'
        )
        lines = output_of(["ruby", "-e", script]).splitlines()
        return dict(line.split(" ", 1) for line in lines if " " in line)
