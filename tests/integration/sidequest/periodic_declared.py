"""A module that declares a periodic job in code, as an application's `-r` module would:
`sidequest worker -r tests.integration.sidequest.periodic_declared`."""

from __future__ import annotations

import sidequest
from tests.integration.sidequest.fixture_jobs import PeriodicJob

sidequest.periodic("from_code", PeriodicJob, every=1, args=["code"], missed="skip")
