"""runtime.resolution: from a payload (ours, Sidekiq's or ActiveJob's) to class and args."""

from __future__ import annotations

from typing import Any

import pytest

from sidequest import DeserializationError, Job, UnknownJobError
from sidequest.runtime import resolution

RAILS_8_WRAPPER = "Sidekiq::ActiveJob::Wrapper"
RAILS_7_WRAPPER = "ActiveJob::QueueAdapters::SidekiqAdapter::JobWrapper"


class ResolveReportJob(Job):
    def perform(self, report_id: int, options: dict[str, Any] | None = None) -> None:
        pass


class ResolveNamedJob(Job):
    job_name = "Reports::NightlyJob"

    def perform(self) -> None:
        pass


def _active_job(wrapper: str, arguments: list[Any], **fields: Any) -> dict[str, Any]:
    return {
        "class": wrapper,
        "queue": "default",
        "jid": "f" * 24,
        "args": [
            {
                "job_class": "ResolveReportJob",
                "job_id": "4e7c1c2a-6f0b-4bd6-9b55-0f7a1f1d6d1e",
                "queue_name": "default",
                "arguments": arguments,
                "executions": 0,
                "exception_executions": {},
                "locale": "en",
                "enqueued_at": "2024-04-05T12:00:00.000000000Z",
            }
        ],
        **fields,
    }


def test_a_sidekiq_class_name_resolves_to_the_registered_class() -> None:
    job = {"class": "ResolveReportJob", "args": [1]}
    assert resolution.job_class_name(job) == "ResolveReportJob"
    assert resolution.resolve(job) is ResolveReportJob
    assert resolution.perform_args(job) == [1]


def test_a_dotted_python_path_resolves_too() -> None:
    job = {"class": f"{__name__}.ResolveReportJob", "args": [1]}
    assert resolution.resolve(job) is ResolveReportJob


def test_a_ruby_namespaced_job_name_resolves() -> None:
    assert resolution.resolve({"class": "Reports::NightlyJob", "args": []}) is ResolveNamedJob


@pytest.mark.parametrize("wrapper", [RAILS_8_WRAPPER, RAILS_7_WRAPPER])
def test_active_job_payloads_unwrap_to_the_wrapped_class(wrapper: str) -> None:
    job = _active_job(wrapper, [42], wrapped="ResolveReportJob")
    assert resolution.job_class_name(job) == "ResolveReportJob"
    assert resolution.resolve(job) is ResolveReportJob
    assert resolution.perform_args(job) == [42]


def test_active_job_payloads_without_wrapped_use_job_class() -> None:
    job = _active_job(RAILS_8_WRAPPER, [42])
    assert resolution.job_class_name(job) == "ResolveReportJob"
    assert resolution.resolve(job) is ResolveReportJob


def test_wrapped_wins_over_job_class() -> None:
    job = _active_job(RAILS_8_WRAPPER, [], wrapped="Reports::NightlyJob")
    assert resolution.resolve(job) is ResolveNamedJob


def test_active_job_hash_markers_are_removed_from_arguments() -> None:
    arguments = [
        7,
        {"format": "pdf", "_aj_symbol_keys": ["format"]},
        [{"deep": {"x": 1, "_aj_hash_with_indifferent_access": True}}],
        {"notify": True, "_aj_ruby2_keywords": ["notify"]},
    ]
    job = _active_job(RAILS_8_WRAPPER, arguments, wrapped="ResolveReportJob")
    assert resolution.perform_args(job) == [
        7,
        {"format": "pdf"},
        [{"deep": {"x": 1}}],
        {"notify": True},
    ]


def test_a_global_id_argument_raises_deserialization_error() -> None:
    job = _active_job(
        RAILS_8_WRAPPER, [{"_aj_globalid": "gid://shop/Report/12"}], wrapped="ResolveReportJob"
    )
    with pytest.raises(DeserializationError, match="GlobalID") as raised:
        resolution.perform_args(job)
    assert "gid://shop/Report/12" in str(raised.value)


def test_a_nested_global_id_raises_too() -> None:
    job = _active_job(
        RAILS_8_WRAPPER, [1, {"owner": {"_aj_globalid": "gid://shop/User/1"}}], wrapped="X"
    )
    with pytest.raises(DeserializationError):
        resolution.perform_args(job)


def test_an_aj_serialized_argument_raises_deserialization_error() -> None:
    value = {"_aj_serialized": "ActiveJob::Serializers::TimeWithZoneSerializer", "value": "x"}
    job = _active_job(RAILS_7_WRAPPER, [value], wrapped="ResolveReportJob")
    with pytest.raises(DeserializationError, match="TimeWithZoneSerializer"):
        resolution.perform_args(job)


def test_an_active_job_payload_without_arguments_raises_deserialization_error() -> None:
    job = {"class": RAILS_8_WRAPPER, "wrapped": "ResolveReportJob", "args": [1, 2]}
    with pytest.raises(DeserializationError, match="arguments"):
        resolution.perform_args(job)


def test_an_unknown_class_raises_unknown_job_error_naming_it() -> None:
    with pytest.raises(UnknownJobError, match="NoSuchResolveJob") as raised:
        resolution.resolve({"class": "NoSuchResolveJob", "args": []})
    assert "-r MODULE" in str(raised.value)


def test_an_unknown_dotted_name_whose_class_is_registered_under_another_module_says_so() -> None:
    # Issue 22: `-r myapp/jobs.py` once loaded the file as a top-level module, so the
    # payload's `myapp.jobs.ResolveReportJob` missed the class it registered.
    with pytest.raises(UnknownJobError) as raised:
        resolution.resolve({"class": "myapp.jobs.ResolveReportJob", "args": []})
    assert str(raised.value).endswith(
        f"A class ResolveReportJob is registered as {__name__}.ResolveReportJob, but the "
        "payload names module myapp.jobs: load the file under that name (-r myapp.jobs)"
    )


def test_an_unknown_wrapped_class_raises_unknown_job_error() -> None:
    job = _active_job(RAILS_8_WRAPPER, [], wrapped="NoSuchWrappedJob")
    with pytest.raises(UnknownJobError, match="NoSuchWrappedJob"):
        resolution.resolve(job)


def test_plain_arguments_are_passed_through_untouched() -> None:
    args = [{"_aj_globalid": "looks like active job but is not wrapped"}]
    assert resolution.perform_args({"class": "ResolveReportJob", "args": args}) == args
