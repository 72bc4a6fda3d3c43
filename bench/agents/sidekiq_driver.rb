# The producer side for Sidekiq: the same commands, loops and output as
# bench/agents/driver.py (see its docstring), written against Sidekiq's client.
#
#   ruby sidekiq_driver.rb enqueue --mode single|bulk --count N --first I
#   ruby sidekiq_driver.rb stream --rate R --count K --first I --out PATH
#   ruby sidekiq_driver.rb schedule --count K --first I --min-ahead S --max-ahead S --out PATH
require "json"
require_relative "sidekiq_jobs"

BULK_BATCH = 1000

def monotonic
  Process.clock_gettime(Process::CLOCK_MONOTONIC)
end

def wall
  Process.clock_gettime(Process::CLOCK_REALTIME)
end

def options(argv)
  argv.each_slice(2).to_h { |key, value| [key.delete_prefix("--").tr("-", "_"), value] }
end

def write_records(path, pairs)
  File.binwrite(path, pairs.map { |n, t| [n, t].pack("q<E") }.join)
end

def enqueue(opts)
  first = Integer(opts.fetch("first", "0"))
  count = Integer(opts.fetch("count"))
  started = monotonic
  if opts.fetch("mode", "single") == "single"
    (first...first + count).each { |n| NoopJob.perform_async(n) }
  else
    (first...first + count).each_slice(BULK_BATCH) do |batch|
      Sidekiq::Client.push_bulk("class" => NoopJob, "args" => batch.map { |n| [n] })
    end
  end
  { seconds: monotonic - started }
end

def stream(opts)
  first = Integer(opts.fetch("first", "0"))
  count = Integer(opts.fetch("count"))
  rate = Float(opts.fetch("rate"))
  sent = []
  start = monotonic + 0.05
  worst_lag = 0.0
  count.times do |k|
    target = start + k / rate
    delay = target - monotonic
    sleep(delay) if delay > 0
    worst_lag = [worst_lag, monotonic - target].max
    n = first + k
    sent << [n, wall]
    NoopJob.perform_async(n)
  end
  write_records(opts.fetch("out"), sent)
  { seconds: monotonic - start, worst_lag: worst_lag }
end

def schedule(opts)
  first = Integer(opts.fetch("first", "0"))
  count = Integer(opts.fetch("count"))
  min_ahead = Float(opts.fetch("min_ahead"))
  max_ahead = Float(opts.fetch("max_ahead"))
  # Whole milliseconds, spread evenly, exactly as driver.py's due_times_ms.
  base = (wall * 1000).ceil + (min_ahead * 1000).round
  step = ((max_ahead - min_ahead) * 1000).round.to_f / [count - 1, 1].max
  due = (0...count).map { |k| base + (k * step).round }
  started = monotonic
  due.each_with_index { |due_ms, k| NoopJob.perform_at(due_ms / 1000.0, first + k) }
  write_records(opts.fetch("out"), due.each_with_index.map { |d, k| [first + k, d / 1000.0] })
  { seconds: monotonic - started }
end

command, *rest = ARGV
result =
  case command
  when "enqueue" then enqueue(options(rest))
  when "stream" then stream(options(rest))
  when "schedule" then schedule(options(rest))
  else abort("unknown command #{command.inspect}")
  end
puts JSON.generate(result)
