"""From a payload to the job class and the arguments for `perform`.

Sidekiq payloads name the class in `class`. ActiveJob payloads pushed by Rails wrap
it: `class` is Sidekiq's wrapper, `wrapped` the real class, and `args` one hash whose
`arguments` are ActiveJob-serialized. We unwrap them so Ruby's ActiveJob can enqueue
work for Python job classes.
"""

from __future__ import annotations

from typing import Any

from sidequest import require
from sidequest.errors import DeserializationError, UnknownJobError
from sidequest.job import registry
from sidequest.job.base import Job
from sidequest.payload import ACTIVE_JOB_WRAPPERS, JobDict

# ActiveJob marks Ruby hashes with these keys; they carry no data for Python.
_ACTIVE_JOB_HASH_MARKERS = frozenset(
    {"_aj_symbol_keys", "_aj_ruby2_keywords", "_aj_hash_with_indifferent_access"}
)


def job_class_name(job: JobDict) -> str:
    name = str(job["class"])
    if name in ACTIVE_JOB_WRAPPERS:
        wrapped = job.get("wrapped")
        if isinstance(wrapped, str) and wrapped:
            return wrapped
        data = _active_job_data(job)
        if data is not None and isinstance(data.get("job_class"), str):
            return str(data["job_class"])
    return name


def resolve(job: JobDict) -> type[Job]:
    name = job_class_name(job)
    job_class = registry.resolve(name)
    if job_class is None:
        raise UnknownJobError(unknown_message(name))
    return job_class


def unknown_message(name: str) -> str:
    """Why no class resolves `name`: what this worker loaded and which classes it knows.

    A worker that misses a module (an old release meeting a new job class during a
    rolling deploy, a forgotten -r) retries the job (runtime/executor.py); the message,
    stored with each retry, says what to load.
    """
    message = f"no job class named {name!r} is registered in this worker: {require.summary()}"
    module, _, short = name.rpartition(".")
    twins = [
        f"{job_class.__module__}.{job_class.__qualname__}"
        for job_class in registry.classes()
        if module and short in {job_class.job_name, job_class.__qualname__}
    ]
    if twins:
        # The colleague's case of issue 22: `-r myapp/jobs.py` once loaded the file as a
        # top-level `jobs`, so `myapp.jobs.HelloJob` missed `jobs.HelloJob`.
        return message + (
            f". A class {short} is registered as {', '.join(twins)}, but the payload names "
            f"module {module}: load the file under that name (-r {module})"
        )
    return message + "; load the module that defines it with `sidequest worker -r MODULE`"


def perform_args(job: JobDict) -> list[Any]:
    """The arguments for perform; raises DeserializationError for what Python cannot rebuild."""
    if str(job["class"]) not in ACTIVE_JOB_WRAPPERS:
        args: list[Any] = job["args"]
        return args
    data = _active_job_data(job)
    if data is None or not isinstance(data.get("arguments"), list):
        raise DeserializationError("ActiveJob payload has no `arguments` list in args[0]")
    return [_from_active_job(value) for value in data["arguments"]]


def _from_active_job(value: Any) -> Any:
    if isinstance(value, list):
        return [_from_active_job(item) for item in value]
    if not isinstance(value, dict):
        return value
    if "_aj_globalid" in value:
        raise DeserializationError(
            f"ActiveJob argument is a GlobalID ({value['_aj_globalid']}); pass the record's id"
        )
    if "_aj_serialized" in value:
        raise DeserializationError(
            f"ActiveJob argument of type {value['_aj_serialized']} cannot be rebuilt in Python"
        )
    return {
        key: _from_active_job(item)
        for key, item in value.items()
        if key not in _ACTIVE_JOB_HASH_MARKERS
    }


def _active_job_data(job: JobDict) -> dict[str, Any] | None:
    args = job.get("args")
    if isinstance(args, list) and len(args) == 1 and isinstance(args[0], dict):
        return args[0]
    return None
