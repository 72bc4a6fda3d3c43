# Sidekiq's side of the benchmark job; the worker loads it with `sidekiq -r`,
# the driver (sidekiq_driver.rb) requires it to name the class.
#
# The job does the drain's workload (BENCH_WORKLOAD, as bench/agents/workload.py),
# then appends a 16-byte record (argument as int64 little-endian, start time
# as float64 epoch seconds) to $BENCH_RECORD: the same layout and the same one
# write(2) as bench/agents/record.py, see there for why.
require "sidekiq"

# Quiet logging (BENCH_LOGGING=quiet, the default) switches off Sidekiq's two
# INFO lines per job; "default" leaves Sidekiq at its own level (INFO).
if ENV.fetch("BENCH_LOGGING", "quiet") == "quiet"
  Sidekiq.configure_server { |config| config.logger.level = Logger::WARN }
end
# Debian pairs Sidekiq 6.4.1 with redis-rb 4.8, which prints a deprecation
# warning on every BRPOP Sidekiq makes (its positional timeout) and every SADD:
# a packaging mismatch, not Sidekiq's design, so the printing is switched off.
Redis.silence_deprecations = true

module BenchRecord
  FLAGS = File::WRONLY | File::APPEND | File::CREAT

  def self.now
    Process.clock_gettime(Process::CLOCK_REALTIME)
  end

  def self.record(n, started = now)
    # Opened lazily: the driver loads this file too and has no record file.
    # Two threads may both open; both descriptors append, so that is harmless.
    @io ||= File.open(ENV.fetch("BENCH_RECORD"), FLAGS, 0o644)
    @io.syswrite([n, started].pack("q<E"))
  end
end

# The same workloads as bench/agents/workload.py, written as a Sidekiq user would.
module BenchWorkload
  KIND = ENV.fetch("BENCH_WORKLOAD", "noop")
  KINDS = %w[noop redis sleep sql].freeze
  raise ArgumentError, "BENCH_WORKLOAD=#{KIND.inspect}: choose one of #{KINDS.join(", ")}" unless KINDS.include?(KIND)

  COUNTER_KEY = "bench:incr"
  SLEEP_SECONDS = 0.001
  ROWS = 10_000
  SELECT = "SELECT name, value FROM bench_items WHERE id = $1"

  if KIND == "sql"
    require "pg"
    require "connection_pool"
    # One connection per processor thread, made on first use; each prepares the
    # SELECT once (psycopg on the Python side prepares it after five uses).
    POOL = ConnectionPool.new(size: Integer(ENV.fetch("BENCH_CONCURRENCY", "10")), timeout: 30) do
      conn = PG.connect(ENV.fetch("BENCH_PG_DSN"))
      conn.prepare("bench_item", SELECT)
      conn
    end
  end

  def self.run(n)
    case KIND
    # Sidekiq's own pool (concurrency + 5 connections): what a Sidekiq job uses for Redis.
    when "redis" then Sidekiq.redis { |conn| conn.incr(COUNTER_KEY) }
    when "sleep" then sleep(SLEEP_SECONDS)
    when "sql" then POOL.with { |conn| conn.exec_prepared("bench_item", [n % ROWS + 1]).values }
    end
  end
end

class NoopJob
  include Sidekiq::Job
  sidekiq_options queue: "default"

  def perform(n)
    return BenchRecord.record(n) if BenchWorkload::KIND == "noop"

    started = BenchRecord.now # before the I/O: latency figures keep their meaning
    BenchWorkload.run(n)
    BenchRecord.record(n, started)
  end
end
