"""Fixtures for the framework's unit tests: no Redis, no network."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from sidequest import testing


@pytest.fixture
def jobs() -> Iterator[testing.FakeAdapter]:
    """The fake adapter installed for one test: perform_later collects instead of pushing."""
    with testing.fake() as fake:
        yield fake
