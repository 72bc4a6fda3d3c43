"""The repository's two distributions, built for real and installed into empty environments.

`sidequest` (services/pyproject.toml) is what `pip install sidequest` gives: the
framework's one package with its data files. `sidequest-shop` (pyproject.toml) is the
demo application (shop, web, worker), pinned to that sidequest. Both are built as an
sdist and a wheel made from it (`python -m build`, hatchling fetched into isolated
environments), checked by twine, opened, and installed into new virtual environments
whose dependencies pip takes from the machine's configured index.
"""

from __future__ import annotations

import ast
import importlib.metadata
import importlib.util
import json
import os
import re
import signal
import subprocess
import sys
import tarfile
import time
import tomllib
import zipfile
from dataclasses import dataclass
from email.parser import HeaderParser
from importlib.metadata import packages_distributions
from pathlib import Path
from typing import Any

import pytest
from packaging.requirements import Requirement

REPO = Path(__file__).resolve().parents[2]
SERVICES = REPO / "services"
APP_PACKAGES = {"shop": SERVICES / "shop", "web": REPO / "web", "worker": REPO / "worker"}

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]


def sidequest_version() -> str:
    source = (SERVICES / "sidequest" / "__init__.py").read_text(encoding="utf-8")
    match = re.search(r'^__version__ = "([^"]+)"$', source, re.MULTILINE)
    assert match, "services/sidequest/__init__.py has no __version__"
    return match.group(1)


def pyproject(directory: Path) -> dict[str, Any]:
    """The [project] table of directory/pyproject.toml."""
    with (directory / "pyproject.toml").open("rb") as handle:
        table: dict[str, Any] = tomllib.load(handle)["project"]
    return table


def normalized(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def package_files(package: Path) -> set[str]:
    """Paths (relative to the package's parent) of what a build must ship: every file
    but bytecode, as hatchling sees it through .gitignore."""
    return {
        path.relative_to(package.parent).as_posix()
        for path in package.rglob("*")
        if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc"
    }


def clean_environment() -> dict[str, str]:
    """This process's environment without what would let the checkout leak in."""
    environment = dict(os.environ)
    for name in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME"):
        environment.pop(name, None)
    return environment


def run(argv: list[str], *, cwd: Path, timeout: float = 180) -> str:
    result = subprocess.run(
        argv,
        cwd=cwd,
        env=clean_environment(),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert result.returncode == 0, (
        f"{' '.join(argv)} exited {result.returncode}:\n{result.stdout}\n{result.stderr}"
    )
    return result.stdout


@dataclass(frozen=True)
class Distribution:
    sdist: Path
    wheel: Path

    def wheel_names(self) -> set[str]:
        with zipfile.ZipFile(self.wheel) as archive:
            return set(archive.namelist())

    def sdist_names(self) -> set[str]:
        """Member paths below the sdist's top directory (`name-version/`)."""
        with tarfile.open(self.sdist) as archive:
            return {
                member.name.split("/", 1)[1]
                for member in archive.getmembers()
                if member.isfile() and "/" in member.name
            }

    def metadata(self) -> dict[str, list[str]]:
        with zipfile.ZipFile(self.wheel) as archive:
            name = next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
            message = HeaderParser().parsestr(archive.read(name).decode("utf-8"))
        fields: dict[str, list[str]] = {}
        for key, value in message.items():
            fields.setdefault(key, []).append(value)
        return fields


@pytest.fixture(scope="module")
def dist_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Both projects built into one directory: each sdist, then a wheel from it."""
    out = tmp_path_factory.mktemp("dist")
    for project in (SERVICES, REPO):
        run([sys.executable, "-m", "build", "--outdir", str(out), str(project)], cwd=out)
    return out


@pytest.fixture(scope="module")
def sidequest_dist(dist_dir: Path) -> Distribution:
    version = sidequest_version()
    return Distribution(
        dist_dir / f"sidequest-{version}.tar.gz", dist_dir / f"sidequest-{version}-py3-none-any.whl"
    )


@pytest.fixture(scope="module")
def app_dist(dist_dir: Path) -> Distribution:
    version = pyproject(REPO)["version"]
    return Distribution(
        dist_dir / f"sidequest_shop-{version}.tar.gz",
        dist_dir / f"sidequest_shop-{version}-py3-none-any.whl",
    )


def test_exactly_two_sdists_and_two_wheels_are_built_and_twine_accepts_them(
    dist_dir: Path, sidequest_dist: Distribution, app_dist: Distribution
) -> None:
    built = sorted(dist_dir.iterdir())
    assert built == sorted(
        [sidequest_dist.sdist, sidequest_dist.wheel, app_dist.sdist, app_dist.wheel]
    )
    output = run(
        [sys.executable, "-m", "twine", "check", "--strict", *map(str, built)], cwd=dist_dir
    )
    assert output.count("PASSED") == 4, output


def test_sidequest_wheel_holds_the_sidequest_package_alone_with_its_data_files(
    sidequest_dist: Distribution,
) -> None:
    names = sidequest_dist.wheel_names()
    dist_info = f"sidequest-{sidequest_version()}.dist-info"
    assert {name.split("/", 1)[0] for name in names} == {"sidequest", dist_info}
    shipped = {name for name in names if not name.startswith(dist_info)}
    assert shipped == package_files(SERVICES / "sidequest")
    # What the code reads at run time, named so that a lost kind of file is obvious.
    assert "sidequest/py.typed" in shipped
    assert "sidequest/lua/exchange.lua" in shipped
    assert len([n for n in shipped if n.startswith("sidequest/lua/")]) >= 8
    assert "sidequest/dashboard/templates/sidequest_dashboard/layout.html" in shipped
    assert "sidequest/dashboard/static/dashboard.js" in shipped
    assert "sidequest/dashboard/static/dashboard.css" in shipped
    with zipfile.ZipFile(sidequest_dist.wheel) as archive:
        entry_points = archive.read(f"{dist_info}/entry_points.txt").decode()
    assert "sidequest = sidequest.cli:main" in entry_points
    metadata = sidequest_dist.metadata()
    assert metadata["Name"] == ["sidequest"]
    assert metadata["Version"] == [sidequest_version()]
    assert metadata["Provides-Extra"] == sorted(EXTRA_PLACES)


def test_sidequest_sdist_holds_no_part_of_the_app(sidequest_dist: Distribution) -> None:
    names = sidequest_dist.sdist_names()
    top = {name.split("/", 1)[0] for name in names}
    assert top == {"sidequest", "pyproject.toml", "README.md", "PKG-INFO", ".gitignore"}
    assert package_files(SERVICES / "sidequest") <= names


def test_app_wheel_holds_shop_web_and_worker_with_their_data_files(
    app_dist: Distribution,
) -> None:
    names = app_dist.wheel_names()
    dist_info = f"sidequest_shop-{pyproject(REPO)['version']}.dist-info"
    assert {name.split("/", 1)[0] for name in names} == {"shop", "web", "worker", dist_info}
    shipped = {name for name in names if not name.startswith(dist_info)}
    expected = set().union(*(package_files(path) for path in APP_PACKAGES.values()))
    assert shipped == expected
    for data_file in (
        "worker/sidequest.yml",
        "shop/alembic.ini",
        "shop/migrations/env.py",
        "shop/migrations/script.py.mako",
        "shop/mail/templates/welcome.txt",
        "shop/reports/templates/summary.html",
        "web/templates/base.html",
        "web/static/app.css",
    ):
        assert data_file in shipped
    assert any(n.startswith("shop/migrations/versions/rev_") for n in shipped)


def test_app_sdist_holds_no_part_of_sidequest(app_dist: Distribution) -> None:
    names = app_dist.sdist_names()
    top = {name.split("/", 1)[0] for name in names}
    assert top == {"services", "web", "worker", "pyproject.toml", "README.md", "PKG-INFO"} | {
        ".gitignore"
    }
    assert {name.split("/")[1] for name in names if name.startswith("services/")} == {"shop"}


def test_app_requires_the_sidequest_of_this_checkout(app_dist: Distribution) -> None:
    requires = [Requirement(r) for r in app_dist.metadata()["Requires-Dist"]]
    (pin,) = [r for r in requires if r.name == "sidequest"]
    assert pin.extras == {"metrics", "otel", "outbox"}
    assert str(pin.specifier) == f"=={sidequest_version()}"


# Imported, yet no distribution's: _typeshed is the type checkers' stubs, imported under
# TYPE_CHECKING only.
NOT_INSTALLED = {"__future__", "_typeshed"}


def imported_distributions(package: Path, own: set[str]) -> dict[str, set[str]]:
    """Distributions (normalized names) the package's modules import, each with where;
    modules of the `own` top-level packages (the distribution's) left out."""
    by_module = packages_distributions()
    found: dict[str, set[str]] = {}
    for path in sorted(package.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                imports = [(alias.name, alias.name) for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                # `from opentelemetry import trace` imports opentelemetry.trace (or a name).
                imports = [(node.module, f"{node.module}.{alias.name}") for alias in node.names]
            else:
                continue
            for module, fuller in imports:
                top = module.split(".")[0]
                if top in own or top in sys.stdlib_module_names or top in NOT_INSTALLED:
                    continue
                for distribution in _owners(module, fuller, by_module.get(top, [top])):
                    where = path.relative_to(REPO).as_posix()
                    found.setdefault(normalized(distribution), set()).add(where)
    return found


def _owners(module: str, fuller: str, candidates: list[str]) -> list[str]:
    """The distributions of an import. A namespace package shared by several of them
    (opentelemetry) belongs to the one that ships the imported module's file."""
    if len(candidates) <= 1:
        return candidates
    for name in (fuller, module):
        try:
            spec = importlib.util.find_spec(name)
        except (ImportError, ValueError):
            continue
        if spec is None or not spec.origin:
            continue
        origin = Path(spec.origin).resolve()
        for distribution in candidates:
            shipped = importlib.metadata.files(distribution) or []
            if any(Path(str(file.locate())).resolve() == origin for file in shipped):
                return [distribution]
    return candidates


def declared(requirements: list[str]) -> set[str]:
    return {normalized(Requirement(r).name) for r in requirements}


# Each extra of sidequest, and where alone its distributions may be imported: a module
# that `import sidequest` or the worker loads must not need an extra.
EXTRA_PLACES = {
    "metrics": ("services/sidequest/metrics/",),
    # `sidequest outbox` imports SQLAlchemy inside its commands, not when the CLI loads.
    "outbox": (
        "services/sidequest/outbox/",
        "services/sidequest/metrics/outbox.py",
        "services/sidequest/outbox_command.py",
    ),
    "otel": ("services/sidequest/tracing/",),
}


def test_sidequest_declares_every_distribution_its_code_imports() -> None:
    project = pyproject(SERVICES)
    required = declared(project["dependencies"])
    extras = project["optional-dependencies"]
    assert set(extras) == set(EXTRA_PLACES)
    imported = imported_distributions(SERVICES / "sidequest", {"sidequest"})
    for distribution, places in imported.items():
        if distribution in required:
            continue
        owners = [name for name in extras if distribution in declared(extras[name])]
        assert owners, f"{distribution} is imported by {places}, undeclared"
        allowed = tuple(place for name in owners for place in EXTRA_PLACES[name])
        assert all(p.startswith(allowed) for p in places), (
            f"{distribution} (extra {owners}) is imported outside {allowed}: {places}"
        )


def test_app_declares_every_distribution_its_code_imports() -> None:
    required = declared(pyproject(REPO)["dependencies"])
    for package in APP_PACKAGES.values():
        for distribution, places in imported_distributions(package, set(APP_PACKAGES)).items():
            assert distribution in required, f"{distribution} is imported by {places}"


@pytest.fixture
def empty_venv(tmp_path: Path) -> Path:
    """A new virtual environment (of the interpreter behind this one): pip and nothing else."""
    venv = tmp_path / "venv"
    base = getattr(sys, "_base_executable", sys.executable)
    run([base, "-m", "venv", str(venv)], cwd=tmp_path)
    return venv / "bin"


JOB_MODULE = '''
"""A job of an application that has installed nothing but the sidequest wheel."""

from pathlib import Path

import sidequest
from sidequest import Job


class PackagedWheelJob(Job):
    queue = "wheel"

    def perform(self, path: str, text: str) -> None:
        Path(path).write_text(f"{text} from {sidequest.__file__}")
'''

ENQUEUE = """
import sys

import sidequest
from packaged_jobs import PackagedWheelJob

sidequest.configure(redis_url=sys.argv[1])
job = PackagedWheelJob.perform_later(sys.argv[2], "performed")
assert job.successfully_enqueued
print(job.jid)
"""


@pytest.fixture
def app_dir(tmp_path: Path) -> Path:
    directory = tmp_path / "app"
    directory.mkdir()
    (directory / "packaged_jobs.py").write_text(JOB_MODULE)
    (directory / "enqueue.py").write_text(ENQUEUE)
    return directory


def site_packages(bin_dir: Path) -> Path:
    (found,) = (bin_dir.parent / "lib").glob("python3.*/site-packages")
    return found


def test_sidequest_wheel_installs_alone_and_its_worker_runs_a_job(
    sidequest_dist: Distribution, empty_venv: Path, app_dir: Path, redis_url: str
) -> None:
    run([str(empty_venv / "pip"), "install", "--quiet", str(sidequest_dist.wheel)], cwd=app_dir)
    run([str(empty_venv / "pip"), "check"], cwd=app_dir)
    installed = site_packages(empty_venv)
    top_level = {
        path.name
        for path in installed.iterdir()
        if path.name.startswith(("sidequest", "shop", "web", "worker"))
    }
    assert top_level == {"sidequest", f"sidequest-{sidequest_version()}.dist-info"}

    help_text = run([str(empty_venv / "sidequest"), "--help"], cwd=app_dir)
    for command in ("worker", "stats", "enqueue", "generate", "web"):
        assert re.search(rf"^\s+{command}\b", help_text, re.MULTILINE), help_text
    # Nothing of the app came along.
    probe = "import importlib.util as u; print([u.find_spec(m) for m in ('shop', 'web', 'worker')])"
    absent = run([str(empty_venv / "python"), "-c", probe], cwd=app_dir)
    assert absent.strip() == "[None, None, None]"

    log = app_dir / "worker.log"
    with log.open("ab") as out:
        worker = subprocess.Popen(
            [
                *(str(empty_venv / "sidequest"), "worker", "-r", "packaged_jobs"),
                *("-q", "wheel", "-c", "2", "-t", "5", "--cpus", "off"),
            ],
            cwd=app_dir,
            env={**clean_environment(), "REDIS_URL": redis_url},
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        result = app_dir / "result.txt"
        jid = run([str(empty_venv / "python"), "enqueue.py", redis_url, str(result)], cwd=app_dir)
        assert re.fullmatch(r"[0-9a-f]{24}", jid.strip()), jid
        deadline = time.monotonic() + 30
        while not result.exists() and worker.poll() is None and time.monotonic() < deadline:
            time.sleep(0.1)
        assert result.exists(), f"the job did not run; worker log:\n{log.read_text()}"
        # Performed by the sidequest installed from the wheel, not by this checkout's.
        assert result.read_text() == f"performed from {installed / 'sidequest' / '__init__.py'}"

        worker.send_signal(signal.SIGTERM)
        assert worker.wait(30) == 0, log.read_text()
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait(10)

    stats_command = [str(empty_venv / "sidequest"), "stats", "--json", "--redis-url", redis_url]
    stats = json.loads(run(stats_command, cwd=app_dir))
    assert stats["processed"] == 1, stats
    assert stats["failed"] == 0, stats


APP_PROBE = """
import json

import worker.__main__
from web import create_app

app = create_app({"TESTING": True})  # migrates the database on start
client = app.test_client()
print(json.dumps({
    "status": {path: client.get(path).status_code for path in ("/", "/readyz", "/static/app.css")},
    "worker_config": str(worker.__main__.DEFAULT_CONFIG),
}))
"""


def test_app_wheel_installs_with_the_sidequest_wheel_and_its_tiers_run(
    sidequest_dist: Distribution,
    app_dist: Distribution,
    empty_venv: Path,
    tmp_path: Path,
    redis_url: str,
) -> None:
    wheels = [str(sidequest_dist.wheel), str(app_dist.wheel)]
    run([str(empty_venv / "pip"), "install", "--quiet", *wheels], cwd=tmp_path)
    run([str(empty_venv / "pip"), "check"], cwd=tmp_path)
    installed = site_packages(empty_venv)
    environment = {
        **clean_environment(),
        "REDIS_URL": redis_url,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'shop.db'}",
        "REPORTS_DIR": str(tmp_path / "reports"),
        "SECRET_KEY": "packaging-test",
        "SIDEQUEST_CPUS": "off",
    }

    # The web tier from the wheels: migrations, page templates and static files are found.
    probe = subprocess.run(
        [str(empty_venv / "python"), "-c", APP_PROBE],
        cwd=tmp_path,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert probe.returncode == 0, probe.stderr
    report = json.loads(probe.stdout.strip().splitlines()[-1])
    assert report["status"] == {"/": 200, "/readyz": 200, "/static/app.css": 200}, probe.stderr
    assert report["worker_config"] == str(installed / "worker" / "sidequest.yml")

    # The worker entry point from the wheels: it reads its packaged queue file, registers
    # itself in Redis, and stops cleanly on SIGTERM.
    log = tmp_path / "worker.log"
    with log.open("ab") as out:
        worker = subprocess.Popen(
            [str(empty_venv / "python"), "-m", "worker"],
            cwd=tmp_path,
            env=environment,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        stats_command = [str(empty_venv / "sidequest"), "stats", "--json", "--redis-url", redis_url]
        deadline = time.monotonic() + 30
        processes = 0
        while worker.poll() is None and time.monotonic() < deadline:
            stats = json.loads(run(stats_command, cwd=tmp_path))
            processes = stats["processes"]
            if processes:
                break
            time.sleep(0.5)
        assert processes == 1, f"no worker process registered; log:\n{log.read_text()}"
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(30) == 0, log.read_text()
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait(10)
