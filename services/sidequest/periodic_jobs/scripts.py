"""The Lua scripts of periodic jobs, called by SHA through sidequest.scripts.Script."""

from __future__ import annotations

from sidequest.scripts import Script

CLAIM = Script("periodic_claim")
RESUME = Script("periodic_resume")
OUTCOME = Script("periodic_outcome")

ALL = (CLAIM, RESUME, OUTCOME)
