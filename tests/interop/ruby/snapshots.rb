# What Sidekiq's own API (Sidekiq 6.4.1, lib/sidekiq/api.rb) reports about the shared
# Redis, as plain hashes the Python tests compare with sidequest.api.
#
# Times are converted with Sidekiq's own readers (JobRecord#enqueued_at, SortedEntry#at,
# Process["started_at"]), so a timestamp that Sidekiq would misread shows up here misread.

require "sidekiq/api"

module InteropSnapshots
  module_function

  def time(value)
    value&.to_f
  end

  def job(record)
    hash = {
      "jid" => record.jid,
      "class" => record.klass,
      "display_class" => record.display_class,
      "args" => record.args,
      "display_args" => record.display_args,
      "queue" => record.queue,
      "enqueued_at" => time(record.enqueued_at),
      "created_at" => time(record.created_at),
      "error_class" => record["error_class"],
      "error_message" => record["error_message"],
      "retry_count" => record["retry_count"],
      "failed_at" => record["failed_at"] && time(Time.at(record["failed_at"])),
      "retried_at" => record["retried_at"] && time(Time.at(record["retried_at"])),
      "backtrace" => record.error_backtrace
    }
    hash["at"] = time(record.at) if record.respond_to?(:at)
    hash
  end

  def stats
    stats = Sidekiq::Stats.new
    {
      "processed" => stats.processed,
      "failed" => stats.failed,
      "scheduled_size" => stats.scheduled_size,
      "retry_size" => stats.retry_size,
      "dead_size" => stats.dead_size,
      "processes_size" => stats.processes_size,
      "workers_size" => stats.workers_size,
      "enqueued" => stats.enqueued,
      "default_queue_latency" => stats.default_queue_latency,
      "queues" => stats.queues
    }
  end

  def history(days)
    history = Sidekiq::Stats::History.new(days)
    {"processed" => history.processed, "failed" => history.failed}
  end

  def queue(name)
    queue = Sidekiq::Queue.new(name)
    {"size" => queue.size, "latency" => queue.latency, "jobs" => queue.map { |record| job(record) }}
  end

  def queue_names
    Sidekiq::Queue.all.map(&:name)
  end

  # Sidekiq enumerates a sorted set from the highest score down.
  def sorted_set(set)
    set.map { |entry| job(entry) }
  end

  def scheduled
    sorted_set(Sidekiq::ScheduledSet.new)
  end

  def retries
    sorted_set(Sidekiq::RetrySet.new)
  end

  def dead
    sorted_set(Sidekiq::DeadSet.new)
  end

  def processes
    Sidekiq::ProcessSet.new.map do |process|
      {
        "identity" => process.identity,
        "hostname" => process["hostname"],
        "pid" => process["pid"],
        "tag" => process.tag,
        "labels" => process.labels,
        "queues" => process.queues,
        "concurrency" => process["concurrency"],
        "busy" => process["busy"],
        "quiet" => process.stopping?,
        "started_at" => process["started_at"],
        "beat" => process["beat"],
        "rss" => process["rss"]
      }
    end
  end

  def work
    Sidekiq::Workers.new.map do |identity, thread, work|
      record = Sidekiq::JobRecord.new(work["payload"])
      {
        "identity" => identity,
        "thread" => thread,
        "queue" => work["queue"],
        "run_at" => work["run_at"],
        "jid" => record.jid,
        "display_class" => record.display_class,
        "display_args" => record.display_args
      }
    end
  end

  def process(identity)
    Sidekiq::ProcessSet.new.find { |candidate| candidate.identity == identity }
  end
end
