# Jobs that exist only in Ruby, run by a real `sidekiq -r ./interop_job.rb` process
# while Python code enqueues them (tests/interop/test_python_enqueues_for_ruby.py).
#
# Each execution is recorded in the shared Redis under `interop:ruby-runs`, so the
# tests can see from Python what Ruby ran, with which arguments, and when.

require "json"
require "sidekiq"

Redis.silence_deprecations = true if Redis.respond_to?(:silence_deprecations=)

# Sidekiq 6.4 waits 10 s plus up to 5 s before its first look at the schedule, then
# polls every 5 s on average. A fixed average of 1 s skips the start-up wait, so a
# scheduled job is picked up within a couple of seconds of being due.
Sidekiq.options[:poll_interval_average] = 1

# Sidekiq 6.4 beats (flushes its counters, reads signals from the Web UI) every 5 s,
# a constant with no setting. One second keeps the tests that wait for a beat short;
# what a beat writes is unchanged.
if defined?(Sidekiq::Launcher::BEAT_PAUSE)
  Sidekiq::Launcher.send(:remove_const, :BEAT_PAUSE)
  Sidekiq::Launcher.const_set(:BEAT_PAUSE, 1)
end

module InteropRecorder
  def record(job, args)
    entry = {
      "jid" => job.jid,
      "class" => job.class.name,
      "args" => args,
      "started_at" => Time.now.to_f,
      "pid" => Process.pid
    }
    Sidekiq.redis { |conn| conn.rpush("interop:ruby-runs", JSON.generate(entry)) }
  end
end

class InteropJob
  include Sidekiq::Worker
  include InteropRecorder
  sidekiq_options queue: "ruby"

  def perform(*args)
    record(self, args)
  end
end

class InteropFailingJob
  include Sidekiq::Worker
  include InteropRecorder
  sidekiq_options queue: "ruby", retry: 3

  def perform(*args)
    record(self, args)
    raise ArgumentError, "ruby refuses #{args.inspect}"
  end
end
