"""`sidequest generate job NAME`: a job module and its test, like `rails generate job`."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from sidequest.errors import ConfigError

JOB_TEMPLATE = '''"""{class_name}: describe what this job does and why it runs in the background."""

from __future__ import annotations

from sidequest import Job


class {class_name}(Job):
    queue = "{queue}"

    def perform(self, record_id: int) -> None:
        """Load what you need by ID and do the work; keep it idempotent."""
        raise NotImplementedError
'''

TEST_TEMPLATE = """from __future__ import annotations

import pytest

from sidequest import testing
from {module} import {class_name}


def test_{snake}_is_enqueued_on_its_queue() -> None:
    with testing.fake() as jobs:
        {class_name}.perform_later(1)
        jobs.assert_enqueued({class_name}, args=[1], queue="{queue}")


def test_{snake}_performs() -> None:
    with pytest.raises(NotImplementedError):  # replace with the job's real effect
        {class_name}.perform_now(1)
"""


@dataclass(frozen=True)
class Generated:
    job_file: Path
    test_file: Path
    class_name: str


def names(name: str) -> tuple[str, str]:
    """("ProcessReportJob", "process_report_job") from "process_report", "ProcessReport", ..."""
    words = re.findall(r"[A-Z]+(?=[A-Z][a-z]|\d|\b|_)|[A-Z]?[a-z]+|[A-Z]+|\d+", name)
    words = [word.lower() for word in words]
    if words and words[-1] == "job":
        words.pop()
    if not words or not re.fullmatch(r"[A-Za-z0-9_-]+", name):
        raise ConfigError(f"job name {name!r} must be letters, digits and underscores")
    if words[0][0].isdigit():
        raise ConfigError(f"job name {name!r} must start with a letter")
    class_name = "".join(word.capitalize() for word in words) + "Job"
    return class_name, "_".join(words) + "_job"


def _module_name(job_file: Path) -> str:
    """The dotted name the test imports: relative to the working directory if under it."""
    path = job_file.with_suffix("")
    if path.is_absolute():
        try:
            path = path.relative_to(Path.cwd())
        except ValueError:
            return path.name  # outside the project: importable once its folder is on sys.path
    return ".".join(path.parts)


def generate_job(
    name: str, *, path: Path, test_path: Path, queue: str = "default", force: bool = False
) -> Generated:
    class_name, snake = names(name)
    job_file = path / f"{snake}.py"
    test_file = test_path / f"test_{snake}.py"
    for target in (job_file, test_file):
        if target.exists() and not force:
            raise ConfigError(f"{target} exists; pass --force to overwrite it")
    module = _module_name(job_file)
    path.mkdir(parents=True, exist_ok=True)
    test_path.mkdir(parents=True, exist_ok=True)
    job_file.write_text(JOB_TEMPLATE.format(class_name=class_name, queue=queue))
    test_file.write_text(
        TEST_TEMPLATE.format(class_name=class_name, module=module, snake=snake, queue=queue)
    )
    return Generated(job_file, test_file, class_name)
