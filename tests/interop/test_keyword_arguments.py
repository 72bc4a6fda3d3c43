"""Keyword arguments cross between Rails' ActiveJob and sidequest in both directions.

Debian's ruby-activejob 6.1 on Ruby 3.1 stores `perform_later(5, format: "pdf")` as the
positional arguments and a hash listing the keyword names under `_aj_ruby2_keywords`;
sidequest stores keyword arguments in the same form (`sidequest.keywords`):

- Ruby's perform_later with keywords, through ActiveJob's Sidekiq adapter, reaches our
  worker's `perform` as keywords;
- our perform_later with keywords is read by ActiveJob's own deserializer as keywords
  (a flagged Ruby hash), and ActiveJob's execution path (`ActiveJob::Base.execute`, what
  its Sidekiq JobWrapper calls) runs a Ruby `perform(report_id, format:, pages: nil)`.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import redis

from tests.interop import interop_jobs as jobs
from tests.interop.conftest import StartWorker
from tests.interop.ruby_console import RubyConsole
from tests.support.polling import wait_for
from tests.support.worker_process import WorkerProcess

# The Ruby side of KeywordReportJob: enqueued through ActiveJob's Sidekiq adapter, and
# performed by ActiveJob itself (it records what it received).
RUBY_KEYWORD_JOB = """
class KeywordReportJob < ActiveJob::Base
  queue_as :reports
  class << self; attr_accessor :received; end

  def perform(report_id, format:, pages: nil)
    self.class.received = {"report_id" => report_id, "format" => format, "pages" => pages}
  end
end
"""


@pytest.fixture(scope="module", autouse=True)
def worker(start_worker: StartWorker) -> Iterator[WorkerProcess]:
    yield start_worker("-q", "reports")


@pytest.fixture(scope="module")
def rails_keyword_job(rails: RubyConsole) -> RubyConsole:
    rails.run(RUBY_KEYWORD_JOB)
    return rails


def run_of(store: redis.Redis, jid: str) -> dict[str, Any] | None:
    return next((run for run in jobs.runs(store) if run["jid"] == jid), None)


def test_rails_keyword_arguments_reach_our_perform_as_keywords(
    rails_keyword_job: RubyConsole, store: redis.Redis
) -> None:
    jid = rails_keyword_job.run(
        "KeywordReportJob.perform_later(5, format: 'pdf', pages: [1, 2]).provider_job_id"
    )

    run = wait_for(lambda: run_of(store, jid), message="Rails' keyword job to run in Python")
    assert run["class"] == "KeywordReportJob"
    assert run["args"] == [5]
    assert run["kwargs"] == {"format": "pdf", "pages": [1, 2]}


def test_rails_scheduled_keyword_job_reaches_our_perform_as_keywords(
    rails_keyword_job: RubyConsole, store: redis.Redis
) -> None:
    jid = rails_keyword_job.run(
        "KeywordReportJob.set(wait: 1).perform_later(6, format: 'csv').provider_job_id"
    )

    run = wait_for(lambda: run_of(store, jid), timeout=15, message="the scheduled keyword job")
    assert (run["args"], run["kwargs"]) == ([6], {"format": "csv"})


def test_our_keyword_arguments_are_keywords_to_rubys_activejob(
    rails_keyword_job: RubyConsole, enqueue_to: str
) -> None:
    # A queue our worker does not watch: the job stays there for Ruby to read.
    job = jobs.KeywordReportJob.set(queue="for-ruby").perform_later(7, pages=[3], format="txt")

    found = f"Sidekiq::Queue.new('for-ruby').find_job('{job.jid}')"
    flagged = rails_keyword_job.run(
        f"args = ActiveJob::Arguments.deserialize({found}.args)\n"
        "[args.first, Hash.ruby2_keywords_hash?(args.last), args.last.keys.map(&:inspect)]"
    )
    assert flagged == [7, True, [":format", ":pages"]]

    received = rails_keyword_job.run(
        f"record = {found}\n"
        "KeywordReportJob.received = nil\n"
        "ActiveJob::Base.execute('job_class' => record.klass, 'job_id' => record.jid, "
        "'provider_job_id' => record.jid, 'queue_name' => record.queue, "
        "'arguments' => record.args, 'executions' => 0, 'locale' => 'en')\n"
        "KeywordReportJob.received"
    )
    assert received == {"report_id": 7, "format": "txt", "pages": [3]}
