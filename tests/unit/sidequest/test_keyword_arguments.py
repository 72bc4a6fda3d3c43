"""Keyword arguments: checked at enqueue, stored as ActiveJob stores them, performed as keywords.

The payload form is ActiveJob's (activejob 6.1 arguments.rb): the positional arguments,
then a hash listing the keyword names under `_aj_ruby2_keywords`. The interop tests
(tests/interop/test_keyword_arguments.py) prove that Ruby's ActiveJob reads and writes it.
"""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any, ClassVar

import pytest

from sidequest import ArgumentMismatchError, Job, SerializationError, retry_on, testing
from sidequest.testing import FakeAdapter

MARKER = "_aj_ruby2_keywords"


class KwReportJob(Job):
    performed: ClassVar[list[tuple[Any, ...]]] = []

    def perform(self, report_id: int, *, format: str, pages: list[int] | None = None) -> str:
        KwReportJob.performed.append((report_id, format, pages))
        return f"{report_id}.{format}"


class KwNamedJob(Job):
    """Every parameter may be passed by name; keywords named like the API's own parameters."""

    performed: ClassVar[list[dict[str, Any]]] = []

    def perform(self, delay: int, when: str = "now", **rest: Any) -> None:
        KwNamedJob.performed.append({"delay": delay, "when": when, **rest})


class KwHashJob(Job):
    """Written for a trailing hash, before keyword arguments were supported."""

    performed: ClassVar[list[tuple[Any, ...]]] = []

    def perform(self, report_id: int, *rest: Any) -> None:
        KwHashJob.performed.append((report_id, *rest))


class KwUniqueJob(Job):
    unique_for = timedelta(hours=1)

    def perform(self, report_id: int, *, format: str = "pdf", copies: int = 1) -> None:
        pass


@retry_on(TimeoutError, wait=0, attempts=3)
class KwFlakyJob(Job):
    runs: ClassVar[list[dict[str, Any]]] = []

    def perform(self, report_id: int, *, format: str) -> None:
        KwFlakyJob.runs.append({"report_id": report_id, "format": format, "jid": self.jid})
        if len(KwFlakyJob.runs) < 3:
            raise TimeoutError("slow printer")


@pytest.fixture(autouse=True)
def forget_runs() -> None:
    for job_class in (KwReportJob, KwNamedJob, KwHashJob):
        job_class.performed.clear()
    KwFlakyJob.runs.clear()


# -- the payload ------------------------------------------------------------------------


def test_keywords_are_stored_after_the_positional_arguments_as_activejob_stores_them(
    jobs: FakeAdapter,
) -> None:
    job = KwReportJob.perform_later(7, pages=[1, 2], format="pdf")

    assert job.args == [7]
    assert job.kwargs == {"pages": [1, 2], "format": "pdf"}
    # Names sorted: the order a call lists them in does not change what is stored.
    assert job.payload["args"] == [
        7,
        {"format": "pdf", "pages": [1, 2], MARKER: ["format", "pages"]},
    ]
    [entry] = jobs.jobs
    assert entry.payload["args"] == job.payload["args"]
    assert (entry.args, entry.kwargs) == ([7], {"format": "pdf", "pages": [1, 2]})


def test_a_call_without_keywords_stores_no_keyword_hash(jobs: FakeAdapter) -> None:
    KwNamedJob.perform_later(1)
    assert jobs.jobs[0].payload["args"] == [1]
    assert jobs.jobs[0].kwargs == {}


def test_every_way_to_enqueue_takes_keywords(jobs: FakeAdapter) -> None:
    stored = [7, {"format": "csv", MARKER: ["format"]}]

    KwReportJob.perform_in(60, 7, format="csv")
    KwReportJob.perform_at(time.time() + 60, 7, format="csv")
    KwReportJob.set(queue="reports", wait=60).perform_later(7, format="csv")

    assert [entry.payload["args"] for entry in jobs.jobs] == [stored] * 3
    assert all(entry.at is not None and entry.at > time.time() + 50 for entry in jobs.jobs)
    assert jobs.jobs[2].queue == "reports"


def test_keywords_may_share_a_name_with_the_apis_own_parameters(jobs: FakeAdapter) -> None:
    # delay, when and cls are positional-only in perform_in, perform_at and the class
    # methods, so they never take a keyword meant for perform.
    KwNamedJob.perform_later(delay=1, when="later", cls="c")
    KwNamedJob.perform_in(5, delay=2)
    KwNamedJob.perform_at(time.time() + 5, 3, when="soon")
    KwNamedJob.set(queue="x").perform_later(delay=4)

    jobs.drain()

    assert KwNamedJob.performed == [
        {"delay": 1, "when": "later", "cls": "c"},
        {"delay": 2, "when": "now"},
        {"delay": 3, "when": "soon"},
        {"delay": 4, "when": "now"},
    ]


def test_a_unique_job_is_the_same_job_whatever_the_order_of_its_keywords(
    jobs: FakeAdapter,
) -> None:
    first = KwUniqueJob.perform_later(1, format="csv", copies=2)
    second = KwUniqueJob.perform_later(1, copies=2, format="csv")

    assert first.successfully_enqueued
    assert not second.successfully_enqueued
    assert second.duplicate_of == first.jid


# -- checked at enqueue -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("call", "complaint"),
    [
        (lambda: KwReportJob.perform_later(7), "missing a required argument: 'format'"),
        (lambda: KwReportJob.perform_later(7, format="pdf", colour="red"), "'colour'"),
        (lambda: KwReportJob.perform_later(7, 8, format="pdf"), "takes 1 positional"),
        (lambda: KwReportJob.perform_later(7, report_id=8, format="pdf"), "multiple values"),
        (lambda: KwReportJob.perform_in(5, format="pdf"), "'report_id'"),
        (lambda: KwReportJob.set(queue="x").perform_later(format="pdf"), "'report_id'"),
        (lambda: KwHashJob.perform_later(1, colour="red"), "'colour'"),
        (lambda: KwNamedJob.perform_later(1, self="s"), "multiple values for argument 'self'"),
    ],
    ids=[
        "missing-keyword",
        "unknown-keyword",
        "too-many-positional",
        "given-twice",
        "perform_in",
        "set",
        "perform-without-keywords",
        "perform-s-own-self",
    ],
)
def test_a_call_perform_would_refuse_is_refused_at_enqueue(
    jobs: FakeAdapter, call: Any, complaint: str
) -> None:
    with pytest.raises(ArgumentMismatchError, match=complaint) as raised:
        call()

    assert "perform" in str(raised.value)
    assert jobs.jobs == []


def test_keyword_values_must_be_json_native_and_are_named(jobs: FakeAdapter) -> None:
    with pytest.raises(
        SerializationError, match=r"keyword argument 'pages' \(kwargs\['pages'\]\[0\]\)"
    ):
        KwReportJob.perform_later(7, format="pdf", pages=[{1}])
    assert jobs.jobs == []


@pytest.mark.parametrize("name", [MARKER, "_aj_symbol_keys", "_aj_globalid"])
def test_a_keyword_named_like_an_activejob_marker_is_refused(jobs: FakeAdapter, name: str) -> None:
    with pytest.raises(SerializationError, match="reserved"):
        KwNamedJob.perform_later(1, **{name: 1})


def test_a_positional_dict_that_would_read_back_as_keywords_is_refused(jobs: FakeAdapter) -> None:
    with pytest.raises(SerializationError, match=MARKER):
        KwHashJob.perform_later(1, {"a": 1, MARKER: ["a"]})


# -- performed with keywords --------------------------------------------------------------


def test_perform_now_passes_keywords(jobs: FakeAdapter) -> None:
    assert KwReportJob.perform_now(7, format="pdf") == "7.pdf"
    assert KwReportJob.set(queue="x").perform_now(8, format="csv", pages=[3]) == "8.csv"
    assert KwReportJob.performed == [(7, "pdf", None), (8, "csv", [3])]
    with pytest.raises(ArgumentMismatchError, match="'format'"):
        KwReportJob.perform_now(7)


def test_drain_performs_with_the_keywords(jobs: FakeAdapter) -> None:
    KwReportJob.perform_later(7, format="pdf", pages=[1])
    KwReportJob.perform_in(10, 8, format="csv")

    assert jobs.drain() == 2
    assert KwReportJob.performed == [(7, "pdf", [1]), (8, "csv", None)]


def test_inline_performs_with_the_keywords() -> None:
    with testing.inline():
        KwReportJob.perform_later(7, format="pdf")
    assert KwReportJob.performed == [(7, "pdf", None)]


def test_a_retry_on_retry_keeps_the_keywords() -> None:
    with testing.inline():
        KwFlakyJob.perform_later(3, format="pdf")

    assert [(run["report_id"], run["format"]) for run in KwFlakyJob.runs] == [(3, "pdf")] * 3
    assert len({run["jid"] for run in KwFlakyJob.runs}) == 1


def test_assert_enqueued_compares_keywords_when_given(jobs: FakeAdapter) -> None:
    KwReportJob.perform_later(7, format="pdf")

    assert jobs.assert_enqueued(KwReportJob, args=[7], kwargs={"format": "pdf"})
    assert jobs.assert_enqueued(KwReportJob, kwargs={"format": "pdf"})
    assert jobs.assert_enqueued(KwReportJob, args=[7])
    with pytest.raises(AssertionError, match=r"kwargs=\{'format': 'csv'\}"):
        jobs.assert_enqueued(KwReportJob, args=[7], kwargs={"format": "csv"})


# -- perform_bulk ---------------------------------------------------------------------------


def test_perform_bulk_takes_jobs_built_with_keywords_beside_argument_lists(
    jobs: FakeAdapter,
) -> None:
    built = KwReportJob(2, format="csv")

    jids = KwReportJob.perform_bulk([KwReportJob(1, format="pdf"), built])
    jids += KwNamedJob.perform_bulk([[1], KwNamedJob(delay=2, extra=True)])

    assert jids[1] == built.jid
    assert [entry.payload["args"] for entry in jobs.jobs] == [
        [1, {"format": "pdf", MARKER: ["format"]}],
        [2, {"format": "csv", MARKER: ["format"]}],
        [1],
        [{"delay": 2, "extra": True, MARKER: ["delay", "extra"]}],
    ]
    assert [entry.jid for entry in jobs.jobs] == jids
    jobs.drain()
    assert KwReportJob.performed == [(1, "pdf", None), (2, "csv", None)]
    assert KwNamedJob.performed == [
        {"delay": 1, "when": "now"},
        {"delay": 2, "when": "now", "extra": True},
    ]


def test_perform_bulk_checks_the_keywords_of_every_job(jobs: FakeAdapter) -> None:
    with pytest.raises(ArgumentMismatchError, match="'format'"):
        KwReportJob.perform_bulk([KwReportJob(1, format="pdf"), KwReportJob(2)])
    with pytest.raises(TypeError, match="KwReportJob jobs"):
        KwReportJob.perform_bulk([KwNamedJob(1)])


def test_perform_bulk_of_a_unique_job_takes_jobs_with_keywords(jobs: FakeAdapter) -> None:
    jids = KwUniqueJob.perform_bulk(
        [KwUniqueJob(1, format="csv"), KwUniqueJob(1, format="csv"), KwUniqueJob(1)]
    )
    assert len(jids) == 2
    assert [entry.kwargs for entry in jobs.jobs] == [{"format": "csv"}, {}]


# -- a stored job: ours, Ruby's ActiveJob, Ruby's keywords to a perform without any -------


def test_a_stored_keyword_hash_is_performed_as_keywords() -> None:
    job = KwReportJob.from_payload({"jid": "a" * 24}, [7, {"format": "pdf", MARKER: ["format"]}])

    assert (job.args, job.kwargs) == ([7], {"format": "pdf"})
    assert job.run_perform() == "7.pdf"


def test_an_activejob_payload_with_keywords_is_performed_with_them() -> None:
    # The worker hands from_payload ActiveJob's arguments with the markers dropped
    # (runtime/resolution.py); the stored payload still says they were keywords.
    stored = [7, {"format": "pdf", "pages": [1], MARKER: ["format", "pages"]}]
    wrapped = {
        "class": "ActiveJob::QueueAdapters::SidekiqAdapter::JobWrapper",
        "wrapped": "KwReportJob",
        "jid": "b" * 24,
        "args": [{"job_class": "KwReportJob", "arguments": stored}],
    }

    job = KwReportJob.from_payload(wrapped, [7, {"format": "pdf", "pages": [1]}])

    assert (job.args, job.kwargs) == ([7], {"format": "pdf", "pages": [1]})


def test_an_activejob_hash_that_was_no_keywords_stays_positional() -> None:
    stored = [7, {"format": "pdf", "_aj_symbol_keys": ["format"]}]
    wrapped = {
        "class": "ActiveJob::QueueAdapters::SidekiqAdapter::JobWrapper",
        "args": [{"job_class": "KwHashJob", "arguments": stored}],
    }

    job = KwHashJob.from_payload(wrapped, [7, {"format": "pdf"}])

    assert (job.args, job.kwargs) == ([7, {"format": "pdf"}], {})


def test_keywords_sent_to_a_perform_without_keywords_arrive_as_a_hash_as_in_ruby() -> None:
    job = KwHashJob.from_payload({}, [5, "pdf", {"id": 9, MARKER: ["id"]}])

    assert (job.args, job.kwargs) == ([5, "pdf", {"id": 9}], {})
    job.run_perform()
    assert KwHashJob.performed == [(5, "pdf", {"id": 9})]


@pytest.mark.parametrize(
    ("args", "complaint"),
    [
        ([7, {"format": "pdf", "colour": "red", MARKER: ["format", "colour"]}], "'colour'"),
        ([7, {"pages": [1], MARKER: ["pages"]}], "'format'"),
        ([7], "'format'"),
        ([7, 8, {"format": "pdf", MARKER: ["format"]}], "takes 1 positional"),
    ],
)
def test_a_stored_call_perform_would_refuse_is_an_argument_mismatch(
    args: list[Any], complaint: str
) -> None:
    # A worker buries such a job at once (retrying cannot fix it), as for a wrong count:
    # the worker calls both, in this order (runtime/executor.py).
    with pytest.raises(ArgumentMismatchError, match=complaint):
        KwReportJob.check_arity(len(args))
        KwReportJob.from_payload({}, args)


def test_a_count_no_split_could_fit_is_refused_from_the_count_alone() -> None:
    with pytest.raises(ArgumentMismatchError, match="takes 1 positional argument"):
        KwReportJob.check_arity(0)
    with pytest.raises(ArgumentMismatchError, match="got 3"):
        KwReportJob.check_arity(3)
