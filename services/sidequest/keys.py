"""Every Redis key sidequest reads or writes is named here, and only here.

Sidekiq's layout (shared with Ruby Sidekiq clients, workers and Web UI)
========================================================================
key                          type    writer / TTL
---------------------------  ------  ------------------------------------------------------
queues                       SET     client SADD on every push; no TTL
queue:<name>                 LIST    client LPUSH; workers take from the right; no TTL
schedule                     ZSET    client ZADD, score = due time (float epoch s); member =
                                     job JSON without `at`/`enqueued_at`; no TTL
retry                        ZSET    worker, score = next attempt (float epoch s); no TTL
dead                         ZSET    worker, score = time of death; trimmed by count and age
                                     on every add
stat:processed               STRING  worker counter (every execution, failures included)
stat:failed                  STRING  worker counter
stat:processed:<YYYY-MM-DD>  STRING  daily counter (UTC date), TTL 5 years as Sidekiq
stat:failed:<YYYY-MM-DD>     STRING  daily counter, TTL 5 years
processes                    SET     heartbeat SADD; identities of worker processes
<identity>                   HASH    heartbeat, TTL 60 s: info, busy, beat, quiet, rss,
                                     rtt_us, concurrency
<identity>:work              HASH    heartbeat, TTL 60 s: thread id -> {"queue", "payload",
                                     "run_at"} for Sidekiq >= 6.5 readers
<identity>:workers           HASH    the same content under Sidekiq <= 6.4's name
<identity>-signals           LIST    UIs LPUSH TSTP/TERM/TTIN, the process RPOPs; TTL 60 s

sidequest's own keys (what Sidekiq's layout has no place for)
=============================================================
sidequest:lease:<identity>     STRING  heartbeat SET PX heartbeat_timeout: the process is
                                       alive while this exists; its expiry triggers recovery
sidequest:inflight:<identity>  HASH    exchange.lua: field "<token>:<queue>" -> raw job for
                                       every job the process holds (inflight_field); emptied
                                       by ack, retry, dead, requeue and recovery; no TTL
                                       (recovered instead). Field "started:<token>:<queue>"
                                       -> "1" while a job recovered before runs
                                       (started_marker; recovery.py): exchange.lua, fail.lua,
                                       requeue.lua and recover.lua spell the same prefix
sidequest:landing:<identity>   LIST    queue waiters BLMOVE a job here the moment it arrives at
                                       an idle worker (one round trip, no second fetch);
                                       drained by exchange.lua into the in-flight hash, by
                                       acknowledgements, requeue and recovery; no TTL
sidequest:owners               SET     identities that may own an in-flight hash; scanned by
                                       recovery; no TTL, entries removed once recovered
sidequest:recoveries           HASH    jid -> how often the job was recovered from a dead
                                       process; TTL 72 h, refreshed on every recovery
sidequest:recovery-lock        STRING  SET NX PX: one process scans for orphans at a time
sidequest:unique:<digest>      STRING  jid holding a unique_for lock; TTL unique_for (+delay)
sidequest:metrics:<10 min>     HASH    per-class job metrics for ten UTC minutes
                                       (YYYYMMDDHHM: the minute's last digit dropped, as
                                       Sidekiq's 10-minute buckets), written by every
                                       worker's JobMetrics middleware once per beat;
                                       TTL 2 h. Fields:
                                       `<class>|p` executions, `<class>|f` failures,
                                       `<class>|ms` total milliseconds, `<class>|h<i>`
                                       executions in duration bucket i (duration_histogram)
sidequest:metrics:hour:<hour>  HASH    the same fields for one UTC hour (YYYYMMDDHH); TTL 25 h
sidequest:outbox:<jid>         STRING  outbox_push.lua SET NX with the push of an outbox
                                       row's job: a row relayed again pushes nothing;
                                       TTL the relay's marker_ttl (1 h by default)
sidequest:progress:<jid>       HASH    a running job's `self.progress(...)`: done, total,
                                       message, updated_at, and finished_at once it ended;
                                       TTL 1 h, refreshed by every write (progress.py)
sidequest:schedule-wakeup      channel PUBLISH when a job is scheduled, so schedulers wake
                                       early instead of polling
sidequest:periodic:*           periodic jobs' schedules and state: named and documented
                                       in periodic_jobs/keys.py, under this PREFIX
"""

from __future__ import annotations

from datetime import UTC, datetime

PREFIX = "sidequest:"

QUEUES = "queues"
SCHEDULE = "schedule"
RETRY = "retry"
DEAD = "dead"
PROCESSES = "processes"
STAT_PROCESSED = "stat:processed"  # stat("processed")
STAT_FAILED = "stat:failed"  # stat("failed")
OWNERS = PREFIX + "owners"
RECOVERIES = PREFIX + "recoveries"
RECOVERY_LOCK = PREFIX + "recovery-lock"
SCHEDULE_WAKEUP_CHANNEL = PREFIX + "schedule-wakeup"

# In-flight hash fields that are not jobs: `started:<field>` notes that <field> runs.
STARTED_PREFIX = "started:"

STATS_TTL_SECONDS = 5 * 365 * 24 * 3600
PROCESS_TTL_SECONDS = 60
RECOVERIES_TTL_SECONDS = 72 * 3600
METRICS_TEN_MINUTES_TTL_SECONDS = 2 * 3600
METRICS_HOUR_TTL_SECONDS = 25 * 3600


def queue(name: str) -> str:
    return "queue:" + name


def queue_name(key: str) -> str:
    """The queue name of a `queue:<name>` key."""
    return key[len("queue:") :]


def stat(name: str) -> str:
    """`stat:processed` or `stat:failed`, the all-time counter."""
    return "stat:" + name


def stat_daily(name: str, when: datetime | None = None) -> str:
    """`stat:processed:YYYY-MM-DD` for `name`, by UTC date."""
    day = (when or datetime.now(UTC)).strftime("%Y-%m-%d")
    return f"stat:{name}:{day}"


def stat_days(when: datetime | None = None) -> tuple[str, str]:
    """The daily processed and failed counters of the same UTC date (now by default)."""
    moment = when or datetime.now(UTC)
    return stat_daily("processed", moment), stat_daily("failed", moment)


def process(identity: str) -> str:
    return identity


def work(identity: str) -> str:
    return identity + ":work"


def legacy_workers(identity: str) -> str:
    return identity + ":workers"


def signals(identity: str) -> str:
    return identity + "-signals"


def lease(identity: str) -> str:
    return PREFIX + "lease:" + identity


def inflight(identity: str) -> str:
    return PREFIX + "inflight:" + identity


def landing(identity: str) -> str:
    return PREFIX + "landing:" + identity


def unique_lock(digest: str) -> str:
    return PREFIX + "unique:" + digest


def outbox_marker(jid: str) -> str:
    """The exactly-once marker of an outbox row's job (outbox_push.lua reads the jid
    back from it, after this prefix)."""
    return PREFIX + "outbox:" + jid


def progress(jid: str) -> str:
    """A job's progress hash."""
    return PREFIX + "progress:" + jid


def metrics_bucket(ten_minutes: str) -> str:
    """Job metrics hash for ten minutes; `ten_minutes` is `YYYYMMDDHHM` in UTC."""
    return PREFIX + "metrics:" + ten_minutes


def metrics_hour_bucket(hour: str) -> str:
    """Per-hour job metrics hash; `hour` is `YYYYMMDDHH` in UTC."""
    return PREFIX + "metrics:hour:" + hour


def inflight_field(token: int, queue_name: str) -> str:
    """The in-flight hash field for one execution: `<token>:<queue>`."""
    return f"{token}:{queue_name}"


def inflight_queue(field: str) -> str:
    """The queue name in an in-flight field (`<token>:<queue>`); "" when it has none."""
    return field.partition(":")[2]


def started_marker(field: str) -> str:
    """The in-flight hash field noting that the job under `field` runs (recovery.py)."""
    return STARTED_PREFIX + field


def marked_field(name: str) -> str | None:
    """The job field a `started:<field>` marker notes; None when `name` is no marker."""
    return name[len(STARTED_PREFIX) :] if name.startswith(STARTED_PREFIX) else None
