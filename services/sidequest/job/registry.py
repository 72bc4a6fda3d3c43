"""Job class names -> job classes. The worker resolves payloads here and only here.

Every Job subclass registers itself under its `job_name` (the class name by default,
so Ruby-style names like `ProcessReportJob` resolve) and under its dotted Python path.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sidequest.job.base import Job

logger = logging.getLogger("sidequest")

_classes: dict[str, type[Job]] = {}


def register(job_class: type[Job]) -> None:
    dotted = _path(job_class)
    for name in {job_class.job_name, dotted}:
        existing = _classes.get(name)
        if existing is not None and existing is not job_class and _path(existing) != dotted:
            _warn_replaced(name, existing, job_class)
        _classes[name] = job_class


def _warn_replaced(name: str, existing: type[Job], job_class: type[Job]) -> None:
    """A different class took the name: the last definition wins, as a Ruby constant
    redefinition would, but say so because a worker may now run other code than the
    enqueuer meant."""
    source = _source_file(job_class)
    if source is not None and source == _source_file(existing):
        # One file imported under two module names (`-r myapp/jobs.py` loaded as a
        # top-level `jobs` while the app imports `myapp.jobs`, issue 22): no job_name
        # fixes that, importing the file by one name does.
        logger.warning(
            "job class %s is defined twice: %s was imported as module %s and as module %s; "
            "import it by one name (its package path, e.g. -r %s)",
            job_class.__qualname__,
            source,
            existing.__module__,
            job_class.__module__,
            max(existing.__module__, job_class.__module__, key=len),
        )
        return
    logger.warning(
        "job name %r now refers to %s (was %s); set `job_name` to disambiguate",
        name,
        _path(job_class),
        _path(existing),
    )


def resolve(name: str) -> type[Job] | None:
    return _classes.get(name)


def registered_names() -> list[str]:
    return sorted(_classes)


def classes() -> list[type[Job]]:
    """Every class a name resolves to, once each, by job name."""
    unique = {id(job_class): job_class for job_class in _classes.values()}
    return sorted(unique.values(), key=lambda job_class: (job_class.job_name, _path(job_class)))


def _path(job_class: type[Job]) -> str:
    return f"{job_class.__module__}.{job_class.__qualname__}"


def _source_file(job_class: type[Job]) -> Path | None:
    module = sys.modules.get(job_class.__module__)
    filename = getattr(module, "__file__", None)
    return Path(filename).resolve() if filename else None
