"""An application module that configures sidequest in code, required (-r) by a worker.

It sends its jobs to APP_REDIS_URL, as an application calling sidequest.configure()
with a setting of its own does. The job classes are fixture_jobs', which record their
runs in TEST_REDIS_URL.
"""

from __future__ import annotations

import os

import sidequest
from tests.integration.sidequest import fixture_jobs  # noqa: F401 - registers the job classes

sidequest.configure(redis_url=os.environ["APP_REDIS_URL"])
