"""The Redis keys of periodic jobs, named here only (sidequest/keys.py points here).

key                                  type  writer / TTL
-----------------------------------  ----  ---------------------------------------------------
sidequest:periodic:schedules         HASH  schedule name -> its definition's JSON
                                           (Schedule.to_json, queue and retry resolved);
                                           replaced by every worker start (store.publish);
                                           periodic_claim.lua refuses a claim made from any
                                           other definition; no TTL
sidequest:periodic:state:<name>      HASH  one schedule's state; no TTL while the schedule
                                           is defined, 30 days once it is removed. Fields:
  watermark    every tick up to it (epoch s) is settled: enqueued, dropped as missed or
               passed while paused; only grows (periodic_claim.lua, periodic_resume.lua,
               publish when the timing changes)
  tick, jid, enqueued_at   the latest tick enqueued and its job (periodic_claim.lua)
  outcome, outcome_at      how that job ended, as the worker reports it
                           (periodic_outcome.lua; absent until it ends)
  missed, dropped          ticks settled past their grace, and those of them the
                           `missed` policy did not run: counted by the claim that
                           settled them (periodic_claim.lua), so no tick is settled
                           uncounted even when the claiming process dies at once
  paused       "1" while paused (store.pause; periodic_resume.lua removes it)
  run_jid, run_at, run_outcome   the latest run outside the schedule (store.run_now)
"""

from __future__ import annotations

from sidequest.keys import PREFIX

SCHEDULES = PREFIX + "periodic:schedules"
REMOVED_STATE_TTL_SECONDS = 30 * 24 * 3600


def state(name: str) -> str:
    return PREFIX + "periodic:state:" + name
