"""`sidequest generate job NAME`: a job module and its test, like `rails generate job`."""

from __future__ import annotations

import importlib.util
import re
from dataclasses import dataclass
from pathlib import Path

from sidequest.errors import ConfigError
from sidequest.require import package_path

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

{imports}


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
    #: what to add by hand so `-r PACKAGE` loads the job, when the generator did not
    hint: str | None = None


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


def _make_package(directory: Path) -> list[Path]:
    """Create `directory` as a package: every folder made here, and `directory` itself,
    gets an `__init__.py` (without one, `sidequest worker -r jobs` imports nothing, and
    pytest cannot import the job from a test). Returns the files written."""
    missing = [directory, *(parent for parent in directory.parents if not parent.exists())]
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for folder in missing:
        marker = folder / "__init__.py"
        if folder != Path(".") and folder.resolve() != Path.cwd() and not marker.exists():
            marker.write_text("")
            written.append(marker)
    return written


_IMPORT_LINE = re.compile(r"from \. import (\w+) as \1")


def _load_from_package(package: Path, module: str) -> str | None:
    """Make `-r PACKAGE` load the new module: a package's `__init__.py` decides what
    importing the package loads. An empty `__init__.py`, or one holding only such
    imports (the generator's own), gets the import, kept sorted; any other is the
    application's to edit, so the hint says what to add. Returns that hint or None."""
    init = package / "__init__.py"
    line = f"from . import {module} as {module}"
    lines = [text for text in init.read_text().splitlines() if text.strip()]
    if all(_IMPORT_LINE.fullmatch(text) for text in lines):
        init.write_text("".join(f"{text}\n" for text in sorted({*lines, line})))
        return None
    if line in lines:
        return None
    return f"add `{line}` to {init} so that `sidequest worker -r` of the package loads it"


def _first_party(module: str) -> bool:
    """Whether ruff's import sorting counts `module` as this project's own: it is found
    in a folder of the project, not in an installed environment."""
    spec = importlib.util.find_spec(module)
    if spec is None or spec.origin is None:
        return False
    origin = Path(spec.origin).resolve()
    return Path.cwd() in origin.parents and "site-packages" not in origin.parts


def _test_imports(module: str, class_name: str) -> str:
    """The test's imports in the order ruff's isort rules want: third party (pytest, and
    sidequest in an app), then first party (the job, and sidequest in its own repository),
    each block sorted."""
    job_import = f"from {module} import {class_name}"
    sidequest_import = "from sidequest import testing"
    if _first_party("sidequest"):
        own = "\n".join(sorted([job_import, sidequest_import], key=lambda line: line.split()[1]))
        return f"import pytest\n\n{own}"
    return f"import pytest\n{sidequest_import}\n\n{job_import}"


def generate_job(
    name: str, *, path: Path, test_path: Path, queue: str = "default", force: bool = False
) -> Generated:
    class_name, snake = names(name)
    job_file = path / f"{snake}.py"
    test_file = test_path / f"test_{snake}.py"
    for target in (job_file, test_file):
        if target.exists() and not force:
            raise ConfigError(f"{target} exists; pass --force to overwrite it")
    _make_package(path)
    _make_package(test_path)
    job_file.write_text(JOB_TEMPLATE.format(class_name=class_name, queue=queue))
    hint = _load_from_package(path, snake)
    imports = _test_imports(package_path(job_file.resolve())[0], class_name)
    test_file.write_text(
        TEST_TEMPLATE.format(class_name=class_name, imports=imports, snake=snake, queue=queue)
    )
    return Generated(job_file, test_file, class_name, hint)
