"""A job module that only the next release's workers load (`-r`), for the rolling-deploy
tests: a worker of the release before meets its jobs without knowing their class."""

from __future__ import annotations

from sidequest import Job
from tests.integration.sidequest.fixture_jobs import recorder


class NewReleaseJob(Job):
    """Records its jid in `test:runs`, as RecordJob does."""

    def perform(self, n: int) -> None:
        recorder().rpush("test:runs", self.jid)
