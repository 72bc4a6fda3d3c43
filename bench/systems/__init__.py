"""The registry of benchmarked systems, in report order. Add a system: one module, one line here."""

from __future__ import annotations

from bench.systems.arq import Arq
from bench.systems.base import System
from bench.systems.celery import Celery
from bench.systems.dramatiq import Dramatiq
from bench.systems.huey import Huey
from bench.systems.rq import RQ, RQSimple
from bench.systems.sidekiq import Sidekiq
from bench.systems.sidequest import Sidequest

ALL: tuple[type[System], ...] = (Sidequest, Sidekiq, RQ, RQSimple, Celery, Dramatiq, Arq, Huey)
BY_NAME: dict[str, type[System]] = {cls.name: cls for cls in ALL}
