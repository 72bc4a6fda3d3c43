"""What the periodic modules may import, until pyproject.toml's import contracts say it.

The dashboard and the CLI list, pause and run schedules through store.py, and the
dashboard may import no job classes and no runtime; declaring a schedule in code must
not need a Redis client. Only resolution.py reads the job registry.
"""

from __future__ import annotations

import grimp
import pytest

PURE = ["schedule", "ticks", "missed", "payloads", "declared"]
MODULES = [*PURE, "keys", "scripts", "store", "ticker", "outcomes"]


@pytest.fixture(scope="module")
def graph() -> grimp.ImportGraph:
    return grimp.build_graph("sidequest", include_external_packages=True)


def chains(graph: grimp.ImportGraph, module: str, imported: str) -> set[tuple[str, ...]]:
    """Import chains from one module to a package or any module inside it."""
    importer = f"sidequest.periodic_jobs.{module}"
    return graph.find_shortest_chains(importer, imported, as_packages=True)


def test_resolution_reads_the_job_registry(graph: grimp.ImportGraph) -> None:
    # The check below finds what it is meant to find.
    assert chains(graph, "resolution", "sidequest.job")


@pytest.mark.parametrize("module", MODULES)
def test_no_module_but_resolution_reaches_job_classes_or_the_runtime(
    graph: grimp.ImportGraph, module: str
) -> None:
    for forbidden in ("sidequest.job", "sidequest.runtime", "sidequest.dashboard"):
        assert chains(graph, module, forbidden) == set()


@pytest.mark.parametrize("module", PURE)
def test_the_pure_modules_need_no_redis(graph: grimp.ImportGraph, module: str) -> None:
    assert chains(graph, module, "redis") == set()


def test_the_package_itself_needs_no_redis(graph: grimp.ImportGraph) -> None:
    assert graph.find_shortest_chain("sidequest.periodic_jobs", "redis") is None
