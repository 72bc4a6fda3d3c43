"""require: what `-r` imports for a module name, a .py file or a folder, and what it logs."""

from __future__ import annotations

import importlib
import logging
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from sidequest import ConfigError, require
from sidequest.job import registry


@pytest.fixture
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Run in `tmp_path` with an empty registry; the imports, sys.path and the registry
    are as before afterwards."""
    monkeypatch.chdir(tmp_path)
    path, modules = sys.path[:], set(sys.modules)
    classes, loaded = dict(registry._classes), list(require._loaded)
    registry._classes.clear()
    require._loaded.clear()
    importlib.invalidate_caches()
    yield tmp_path
    sys.path[:] = path
    for name in set(sys.modules) - modules:
        del sys.modules[name]
    registry._classes.clear()
    registry._classes.update(classes)
    require._loaded[:] = loaded


def job_module(path: Path, *classes: str) -> Path:
    """Write a module defining each job class in `classes`, and the folders above it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    body = "".join(
        f"\n\nclass {name}(Job):\n    def perform(self) -> None:\n        pass\n"
        for name in classes
    )
    path.write_text(f"from sidequest import Job{body}")
    return path


def package(folder: Path) -> Path:
    """Make `folder` a package (an empty __init__.py)."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "__init__.py").write_text("")
    return folder


def test_a_folder_without_init_imports_each_module_under_its_dotted_name(isolated: Path) -> None:
    job_module(isolated / "rq_jobs" / "hello.py", "RqHelloJob")
    job_module(isolated / "rq_jobs" / "report.py", "RqReportJob")
    job_module(isolated / "rq_jobs" / "mail" / "welcome.py", "RqWelcomeJob")
    (isolated / "rq_jobs" / "__main__.py").write_text("raise SystemExit('a program, not a module')")

    [loaded] = require.load_modules(["rq_jobs"])

    assert loaded.modules == ("rq_jobs.hello", "rq_jobs.mail.welcome", "rq_jobs.report")
    assert registry.resolve("rq_jobs.hello.RqHelloJob") is registry.resolve("RqHelloJob")
    assert registry.resolve("rq_jobs.mail.welcome.RqWelcomeJob") is not None
    assert "rq_jobs.__main__" not in sys.modules


def test_a_folder_given_as_a_path_is_the_same_folder(isolated: Path) -> None:
    job_module(isolated / "app" / "rq_jobs" / "hello.py", "RqHelloJob")

    [loaded] = require.load_modules(["app/rq_jobs/"])

    assert loaded.modules == ("rq_jobs.hello",)
    assert loaded.describe() == "-r app/rq_jobs/ (rq_jobs.hello)"
    assert registry.resolve("rq_jobs.hello.RqHelloJob") is not None


def test_a_folder_without_any_module_is_refused(isolated: Path) -> None:
    (isolated / "rq_empty").mkdir()
    (isolated / "rq_empty" / "notes.txt").write_text("no Python here")

    with pytest.raises(ConfigError, match=r"cannot require rq_empty: the folder .* holds no"):
        require.load_modules(["rq_empty"])


def test_a_file_in_a_package_loads_under_its_package_path_once(
    isolated: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # Issue 22: `-r rq_app/jobs.py` loaded the file as a top-level `jobs`, so payloads
    # naming rq_app.jobs.RqHelloJob were unknown, and an import of rq_app.jobs by the
    # app defined the class a second time.
    package(isolated / "src" / "rq_app")
    job_module(isolated / "src" / "rq_app" / "jobs.py", "RqHelloJob")
    (isolated / "src" / "rq_app" / "wiring.py").write_text("import rq_app.jobs\n")
    monkeypatch.chdir(isolated / "src" / "rq_app")

    with caplog.at_level(logging.WARNING, logger="sidequest"):
        loaded = require.load_modules(["jobs.py", "wiring.py"])

    assert [item.modules for item in loaded] == [("rq_app.jobs",), ("rq_app.wiring",)]
    assert str(isolated / "src") in sys.path
    assert "jobs" not in sys.modules
    assert registry.resolve("rq_app.jobs.RqHelloJob") is registry.resolve("RqHelloJob")
    assert registry.resolve("jobs.RqHelloJob") is None
    assert not caplog.records


def test_a_package_folder_is_imported_as_python_imports_it(isolated: Path) -> None:
    package(isolated / "rq_pkg")
    job_module(isolated / "rq_pkg" / "hello.py", "RqHelloJob")
    (isolated / "rq_pkg" / "__init__.py").write_text("from rq_pkg.hello import RqHelloJob\n")

    for target in ("rq_pkg", "rq_pkg/", "rq_pkg/__init__.py"):
        [loaded] = require.load_modules([target])
        assert loaded.modules == ("rq_pkg",)
    assert registry.resolve("rq_pkg.hello.RqHelloJob") is not None


def test_a_file_whose_package_path_imports_another_copy_is_refused_naming_the_r_to_use(
    isolated: Path,
) -> None:
    job_module(package(isolated / "one" / "rq_twin") / "jobs.py", "RqOneJob")
    job_module(package(isolated / "two" / "rq_twin") / "jobs.py", "RqTwoJob")

    with pytest.raises(ConfigError) as refused:
        require.load_modules(["one/rq_twin/jobs.py", "two/rq_twin/jobs.py"])

    message = str(refused.value)
    assert message.startswith("cannot require two/rq_twin/jobs.py: ")
    assert f"finds {isolated / 'one' / 'rq_twin' / 'jobs.py'}" in message
    assert "pass -r rq_twin.jobs to load that one" in message
    assert registry.resolve("RqTwoJob") is None


@pytest.mark.parametrize(
    ("target", "complaint"),
    [
        ("rq_missing", "cannot require rq_missing: No module named 'rq_missing'"),
        ("rq_missing.py", "cannot require rq_missing.py: no such file or folder"),
        ("docs/notes.txt", "cannot require docs/notes.txt: neither a .py file nor a folder"),
        ("my-app/jobs.py", "its package path my-app.jobs is no Python module name"),
    ],
)
def test_what_cannot_be_imported_is_refused_with_the_reason(
    isolated: Path, target: str, complaint: str
) -> None:
    (isolated / "docs").mkdir()
    (isolated / "docs" / "notes.txt").write_text("")
    job_module(package(isolated / "my-app") / "jobs.py", "RqDashedJob")

    with pytest.raises(ConfigError, match=complaint.replace(".", r"\.")):
        require.load_modules([target])


def test_the_start_line_counts_and_names_the_classes_shortened_past_a_dozen(
    isolated: Path, caplog: pytest.LogCaptureFixture
) -> None:
    names = [f"Rq{letter}Job" for letter in "ABCDEFGHIJKLMN"]
    job_module(isolated / "rq_many" / "jobs.py", *names)
    require.load_modules(["rq_many"])

    with caplog.at_level(logging.INFO, logger="sidequest"):
        require.log_job_classes()

    [record] = caplog.records
    assert record.levelno == logging.INFO
    assert record.getMessage() == (
        "loaded -r rq_many (rq_many.jobs); knows 14 job classes: "
        + ", ".join(names[:12])
        + " and 2 more"
    )


def test_a_worker_knowing_no_class_warns_naming_the_modules_its_package_left_out(
    isolated: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # `sidequest generate job` makes the folder a package with an empty __init__.py.
    package(isolated / "rq_generated")
    job_module(isolated / "rq_generated" / "send_invoice_job.py", "RqSendInvoiceJob")
    require.load_modules(["rq_generated"])

    with caplog.at_level(logging.INFO, logger="sidequest"):
        require.log_job_classes()

    [record] = caplog.records
    assert record.levelno == logging.WARNING
    assert record.getMessage() == (
        "this worker knows no job class (it loaded -r rq_generated): every job it fetches "
        "fails as unknown and is retried. The package rq_generated imports none of its "
        "modules (rq_generated.send_invoice_job): import them in its __init__.py, or pass "
        "-r rq_generated.send_invoice_job"
    )


def test_a_worker_without_r_warns_that_it_knows_no_class(
    isolated: Path, caplog: pytest.LogCaptureFixture
) -> None:
    require.load_modules([])

    with caplog.at_level(logging.INFO, logger="sidequest"):
        require.log_job_classes()

    [record] = caplog.records
    assert record.levelno == logging.WARNING
    assert "(it loaded no -r module)" in record.getMessage()
    assert "-r MODULE" in record.getMessage()


def test_one_file_imported_under_two_module_names_is_named_in_the_warning(
    isolated: Path, caplog: pytest.LogCaptureFixture
) -> None:
    job_module(package(isolated / "rq_double") / "jobs.py", "RqTwiceJob")
    sys.path[:0] = [str(isolated), str(isolated / "rq_double")]

    with caplog.at_level(logging.WARNING, logger="sidequest"):
        importlib.import_module("jobs")
        importlib.import_module("rq_double.jobs")

    [record] = caplog.records
    source = isolated / "rq_double" / "jobs.py"
    assert record.getMessage() == (
        f"job class RqTwiceJob is defined twice: {source} was imported as module jobs and "
        "as module rq_double.jobs; import it by one name (its package path, e.g. "
        "-r rq_double.jobs)"
    )
