# Sidekiq's side of the benchmark job; the worker loads it with `sidekiq -r`,
# the driver (sidekiq_driver.rb) requires it to name the class.
#
# The job appends a 16-byte record (argument as int64 little-endian, start time
# as float64 epoch seconds) to $BENCH_RECORD: the same layout and the same one
# write(2) as bench/agents/record.py, see there for why.
require "sidekiq"

# Per-job log lines are off for every system in the benchmark.
Sidekiq.configure_server { |config| config.logger.level = Logger::WARN }
# Debian pairs Sidekiq 6.4.1 with redis-rb 4.8, which prints a deprecation
# warning on every BRPOP Sidekiq makes (its positional timeout) and every SADD:
# a packaging mismatch, not Sidekiq's design, so the printing is switched off.
Redis.silence_deprecations = true

module BenchRecord
  FLAGS = File::WRONLY | File::APPEND | File::CREAT

  def self.record(n)
    # Opened lazily: the driver loads this file too and has no record file.
    # Two threads may both open; both descriptors append, so that is harmless.
    @io ||= File.open(ENV.fetch("BENCH_RECORD"), FLAGS, 0o644)
    @io.syswrite([n, Process.clock_gettime(Process::CLOCK_REALTIME)].pack("q<E"))
  end
end

class NoopJob
  include Sidekiq::Job
  sidekiq_options queue: "default"

  def perform(n)
    BenchRecord.record(n)
  end
end
