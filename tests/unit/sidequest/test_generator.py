"""generator: `sidequest generate job NAME` names, files and the test it writes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from sidequest import ConfigError
from sidequest.generator import generate_job, names


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("process_report", ("ProcessReportJob", "process_report_job")),
        ("ProcessReport", ("ProcessReportJob", "process_report_job")),
        ("ProcessReportJob", ("ProcessReportJob", "process_report_job")),
        ("process_report_job", ("ProcessReportJob", "process_report_job")),
        ("processReport", ("ProcessReportJob", "process_report_job")),
        ("HTTPCall", ("HttpCallJob", "http_call_job")),
        ("report", ("ReportJob", "report_job")),
        ("send-welcome-email", ("SendWelcomeEmailJob", "send_welcome_email_job")),
    ],
)
def test_names_converts_every_spelling(name: str, expected: tuple[str, str]) -> None:
    assert names(name) == expected


@pytest.mark.parametrize("name", ["", "Job", "job", "bad name", "report!", "3d_render", "ünïcode"])
def test_names_refuses_what_cannot_be_a_job_name(name: str) -> None:
    with pytest.raises(ConfigError):
        names(name)


def _generate_in(
    directory: Path, monkeypatch: pytest.MonkeyPatch, *, force: bool = False
) -> tuple[Path, Path]:
    monkeypatch.chdir(directory)
    generated = generate_job(
        "process_report",
        path=Path("jobs"),
        test_path=Path("generated_tests"),
        queue="reports",
        force=force,
    )
    assert generated.class_name == "ProcessReportJob"
    return generated.job_file, generated.test_file


def test_generate_job_writes_the_job_module_and_its_test(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    job_file, test_file = _generate_in(tmp_path, monkeypatch)
    assert job_file == Path("jobs/process_report_job.py")
    assert test_file == Path("generated_tests/test_process_report_job.py")
    job_source = (tmp_path / job_file).read_text()
    test_source = (tmp_path / test_file).read_text()
    assert "class ProcessReportJob(Job):" in job_source
    assert 'queue = "reports"' in job_source
    assert "from jobs.process_report_job import ProcessReportJob" in test_source
    compile(job_source, str(job_file), "exec")
    compile(test_source, str(test_file), "exec")


def test_generate_job_refuses_to_overwrite_without_force(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    job_file, _ = _generate_in(tmp_path, monkeypatch)
    (tmp_path / job_file).write_text("# my edits\n")
    with pytest.raises(ConfigError, match="--force"):
        _generate_in(tmp_path, monkeypatch)
    assert (tmp_path / job_file).read_text() == "# my edits\n"


def test_generate_job_refuses_when_only_the_test_exists(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    test_file = tmp_path / "generated_tests" / "test_process_report_job.py"
    test_file.parent.mkdir()
    test_file.write_text("# someone's test\n")
    with pytest.raises(ConfigError):
        _generate_in(tmp_path, monkeypatch)
    assert test_file.read_text() == "# someone's test\n"
    assert not (tmp_path / "jobs" / "process_report_job.py").exists()


def test_generate_job_with_force_overwrites(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    job_file, _ = _generate_in(tmp_path, monkeypatch)
    (tmp_path / job_file).write_text("# my edits\n")
    _generate_in(tmp_path, monkeypatch, force=True)
    assert "class ProcessReportJob" in (tmp_path / job_file).read_text()


def _run_pytest(directory: Path, target: str) -> subprocess.CompletedProcess[str]:
    environment = dict(os.environ, PYTHONPATH=str(directory), PYTHONDONTWRITEBYTECODE="1")
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", target],
        cwd=directory,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_generated_test_passes_under_pytest(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, test_file = _generate_in(tmp_path, monkeypatch)
    result = _run_pytest(tmp_path, str(test_file))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 passed" in result.stdout


def test_a_generated_test_for_an_absolute_path_under_the_working_directory_imports_the_job(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # `sidequest generate job NAME --path "$PWD/jobs"` should write the same import
    # as `--path jobs`.
    monkeypatch.chdir(tmp_path)
    generated = generate_job("audit", path=tmp_path / "jobs", test_path=tmp_path / "gen_tests")
    source = generated.test_file.read_text()
    assert "from jobs.audit_job import AuditJob" in source


RUFF_RULES = "E,F,W,I,UP,B"  # isort's order included: what a project's ruff config enables


def _sidequest_command(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(Path(sys.executable).with_name("sidequest")), *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def _ruff(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    ruff = Path(sys.executable).with_name("ruff")
    return subprocess.run(
        [str(ruff), *args], cwd=cwd, capture_output=True, text=True, timeout=60, check=False
    )


def test_generated_files_pass_plain_pytest_and_ruff_in_a_fresh_folder(tmp_path: Path) -> None:
    result = _sidequest_command("generate", "job", "send_invoice", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert _sidequest_command("generate", "job", "audit", cwd=tmp_path).returncode == 0
    # The job folder is a package that imports its jobs, so `sidequest worker -r jobs`
    # (which imports the package) loads every generated job.
    assert (tmp_path / "jobs" / "__init__.py").read_text() == (
        "from . import audit_job as audit_job\nfrom . import send_invoice_job as send_invoice_job\n"
    )
    probe = "import sys, jobs; print(sorted(m for m in sys.modules if m.startswith('jobs.')))"
    loaded = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=tmp_path, capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    assert loaded.stdout.strip() == "['jobs.audit_job', 'jobs.send_invoice_job']"
    files = ["jobs/__init__.py", "jobs/send_invoice_job.py", "tests/test_send_invoice_job.py"]
    checked = _ruff(
        "check", "--no-cache", "--isolated", "--select", RUFF_RULES, *files, cwd=tmp_path
    )
    assert checked.returncode == 0, checked.stdout
    formatted = _ruff("format", "--no-cache", "--isolated", "--check", *files, cwd=tmp_path)
    assert formatted.returncode == 0, formatted.stdout
    # Plain `pytest`, no PYTHONPATH: the test finds the job module by itself.
    environment = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    tested = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
        cwd=tmp_path, env=environment, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert tested.returncode == 0, tested.stdout + tested.stderr
    assert "4 passed" in tested.stdout


def test_generated_files_pass_pytest_and_ruff_in_this_repositorys_layout() -> None:
    repository = Path(__file__).resolve().parents[3]
    name = f"generated_probe_{os.getpid()}"
    job_file = repository / "services" / "shop" / "jobs" / f"{name}_job.py"
    test_file = repository / "tests" / "unit" / "shop" / f"test_{name}_job.py"
    package_init = (job_file.parent / "__init__.py").read_text()
    try:
        result = _sidequest_command(
            "generate", "job", name, "--path", "services/shop/jobs",
            "--test-path", "tests/unit/shop", cwd=repository,
        )  # fmt: skip
        assert result.returncode == 0, result.stderr
        assert f"from shop.jobs.{name}_job import" in test_file.read_text()
        # The application's own __init__.py is left alone; the command says what to add.
        assert (job_file.parent / "__init__.py").read_text() == package_init
        assert f"next: add `from . import {name}_job as {name}_job`" in result.stdout
        checked = _ruff("check", "--no-cache", str(job_file), str(test_file), cwd=repository)
        assert checked.returncode == 0, checked.stdout
        formatted = _ruff(
            "format", "--no-cache", "--check", str(job_file), str(test_file), cwd=repository
        )
        assert formatted.returncode == 0, formatted.stdout
        tested = subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(test_file)],
            cwd=repository, capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
        assert tested.returncode == 0, tested.stdout + tested.stderr
    finally:
        job_file.unlink(missing_ok=True)
        test_file.unlink(missing_ok=True)
