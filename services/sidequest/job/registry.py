"""Job class names -> job classes. The worker resolves payloads here and only here.

Every Job subclass registers itself under its `job_name` (the class name by default,
so Ruby-style names like `ProcessReportJob` resolve) and under its dotted Python path.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sidequest.job.base import Job

logger = logging.getLogger("sidequest")

_classes: dict[str, type[Job]] = {}


def register(job_class: type[Job]) -> None:
    dotted = f"{job_class.__module__}.{job_class.__qualname__}"
    for name in {job_class.job_name, dotted}:
        existing = _classes.get(name)
        if existing is not None and existing is not job_class and _path(existing) != dotted:
            # A different class took the name: the last definition wins, as a Ruby
            # constant redefinition would, but say so because a worker may now run
            # other code than the enqueuer meant.
            logger.warning(
                "job name %r now refers to %s (was %s); set `job_name` to disambiguate",
                name,
                dotted,
                _path(existing),
            )
        _classes[name] = job_class


def resolve(name: str) -> type[Job] | None:
    return _classes.get(name)


def registered_names() -> list[str]:
    return sorted(_classes)


def _path(job_class: type[Job]) -> str:
    return f"{job_class.__module__}.{job_class.__qualname__}"
