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
paused                       SET     names of paused queues: sidequest.api.pausing SADD/SREM
                                     (the key of Sidekiq Pro's pausing, which Sidekiq 7's
                                     Stats#queue_summaries reads); exchange.lua fetches
                                     from no queue in it; no TTL (runtime state, cleared
                                     by a resume)

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
sidequest:limits:slots:<key>   ZSET    concurrency limit `key` (limits/): member = holder
                                       "<identity>|<n>" of a running job, score = when the
                                       slot lapses (acquired or refreshed + duration, Redis
                                       clock); limit_acquire.lua adds, limit_release.lua
                                       removes; holders of a process whose lease is gone
                                       are dropped by acquire and sweep; no TTL (empty
                                       sets vanish)
sidequest:limits:parked:<key>  LIST    raw jobs refused a slot of `key`, LPUSHed by
                                       limit_acquire.lua (out of the in-flight hash or
                                       landing list in the same call); limit_release.lua
                                       and limit_sweep.lua move the oldest one back to the
                                       front (right end) of its queue; no TTL
sidequest:limits:starts:<key>  ZSET    rate limit `key`: the sliding log of starts, member
                                       = holder, score = start (Redis clock); trimmed to
                                       the window by every acquire; PEXPIRE window + 1 s
sidequest:limits:concurrency   HASH    key -> "<to>" of every concurrency limit in use
                                       (written by acquire when the key was unused, and
                                       at a park); read by stats and the sweep; keys
                                       with no holder and nothing parked are dropped by
                                       limit_prune.lua, a batch per worker heartbeat
sidequest:limits:rate          HASH    key -> "<n>/<per seconds>" of every rate limit in
                                       use; pruned likewise once its log expired
sidequest:limits:waiting       SET     concurrency keys with parked jobs: SADD by acquire,
                                       SREM once their parked list is empty; the sweep
                                       (every heartbeat interval) looks only at these
sidequest:batch:<bid>          HASH    batches (batches/store.py, batch_push.lua, batch_lib.lua):
                                       description, created_at, done_at, ttl, parent, and the
                                       counters total, succeeded, dead; per callback event
                                       (complete, success, death) `cb:<event>` its payload
                                       without the closing brace, `cbq:<event>` its queue,
                                       `fired:<event>` when it was pushed (HSETNX: the
                                       exactly-once guard). No TTL while pending; EXPIRE `ttl`
                                       (30 days) once complete
sidequest:batch:<bid>:members  SET     every member: a jid, or "b:<bid>" for a child batch;
                                       same TTL as the batch hash
sidequest:batch:<bid>:pending  SET     members not settled yet (retrying ones included); a
                                       member leaves it once, so SREM is the exactly-once
                                       guard of its outcome; gone (empty) once complete
sidequest:batch:<bid>:failed   SET     pending members waiting for a retry; batch's TTL
sidequest:batch:<bid>:dead     SET     members that died; batch's TTL. The Lua scripts build
                                       these names from BATCH_PREFIX and a bid read from a
                                       payload or a parent field (batch_lib.lua)
sidequest:batches              ZSET    bid scored by created_at, for listings; entries whose
                                       hash expired are dropped by batch_push.lua (a few per
                                       new batch) and by readers
sidequest:batches:stats        HASH    cluster-wide counters: created, completed,
                                       callbacks:<event>; no TTL (a handful of fields)
sidequest:outbox:<jid>         STRING  outbox_push.lua SET NX with the push of an outbox
                                       row's job: a row relayed again pushes nothing;
                                       TTL the relay's marker_ttl (1 h by default)
sidequest:progress:<jid>       HASH    a running job's `self.progress(...)`: done, total,
                                       message, updated_at, and finished_at once it ended;
                                       TTL 1 h, refreshed by every write (progress.py)
sidequest:schedule-wakeup      channel PUBLISH when a job is scheduled, so schedulers wake
                                       early instead of polling
sidequest:control              channel PUBLISH "pause <queue>", "resume <queue>" and
                                       "cancel <jid>" (api/pausing.py, api/cancelling.py), so
                                       every worker's control listener (runtime/control.py)
                                       acts within milliseconds; it re-reads `paused` and
                                       sidequest:cancelled every few seconds anyway
sidequest:cancelled            ZSET    jid -> epoch seconds its cancel mark expires; written
                                       by api/cancelling.py, which trims expired members on
                                       every add; a worker drops a job whose jid is here
                                       when it is about to start; key TTL = the longest
                                       mark (CANCEL_TTL_SECONDS)
sidequest:flow-stats           HASH    cluster-wide counters `cancelled`, `expired`,
                                       `debounced` (HINCRBY by api/cancelling.py, the workers'
                                       FlowCounts once per beat, debounce.lua); no TTL, as
                                       stat:processed
sidequest:debounce:<key>       HASH    debounce.lua: `jid` and `member` (the payload) of the
                                       pending job in `schedule`, `first` (epoch s of the
                                       first enqueue of the burst); PEXPIRE at the burst's
                                       cap (debounce_max after `first`) plus a minute
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
PAUSED = "paused"
CONTROL_CHANNEL = PREFIX + "control"
CANCELLED = PREFIX + "cancelled"
FLOW_STATS = PREFIX + "flow-stats"
LIMITS_CONCURRENCY = PREFIX + "limits:concurrency"
LIMITS_RATE = PREFIX + "limits:rate"
LIMITS_WAITING = PREFIX + "limits:waiting"
BATCH_PREFIX = PREFIX + "batch:"
BATCH_INDEX = PREFIX + "batches"
BATCH_STATS = PREFIX + "batches:stats"
BATCH_TTL_SECONDS = 30 * 24 * 3600

# In-flight hash fields that are not jobs: `started:<field>` notes that <field> runs.
STARTED_PREFIX = "started:"

STATS_TTL_SECONDS = 5 * 365 * 24 * 3600
PROCESS_TTL_SECONDS = 60
RECOVERIES_TTL_SECONDS = 72 * 3600
METRICS_TEN_MINUTES_TTL_SECONDS = 2 * 3600
METRICS_HOUR_TTL_SECONDS = 25 * 3600
#: how long a cancel mark keeps a job from running: longer than any job stays in flight
#: or waits for recovery
CANCEL_TTL_SECONDS = 7 * 24 * 3600


def queue(name: str) -> str:
    return QUEUE_PREFIX + name


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


def debounce(key: str) -> str:
    """The pending job of a debounce key (`Job.set(debounce_key=...)`)."""
    return PREFIX + "debounce:" + key


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


def limit_slots(key: str) -> str:
    """The holders of concurrency limit `key` (a limit's key as its key function built it)."""
    return PREFIX + "limits:slots:" + key


def limit_parked(key: str) -> str:
    """The jobs waiting for a slot of concurrency limit `key`."""
    return PREFIX + "limits:parked:" + key


def limit_starts(key: str) -> str:
    """The sliding log of starts of rate limit `key`."""
    return PREFIX + "limits:starts:" + key


# Lua builds two kinds of names from data it reads (a holder's identity, a parked job's
# queue); it gets these prefixes from here rather than spelling them itself.
LEASE_PREFIX = PREFIX + "lease:"
QUEUE_PREFIX = "queue:"


def batch(bid: str) -> str:
    """A batch's hash (its counters, callbacks and fired flags)."""
    return BATCH_PREFIX + bid


def batch_members(bid: str) -> str:
    """Every member of a batch; batch_lib.lua spells the same suffix (so the others)."""
    return BATCH_PREFIX + bid + ":members"


def batch_pending(bid: str) -> str:
    return BATCH_PREFIX + bid + ":pending"


def batch_failed(bid: str) -> str:
    return BATCH_PREFIX + bid + ":failed"


def batch_dead(bid: str) -> str:
    return BATCH_PREFIX + bid + ":dead"


def batch_context(now: float) -> tuple[str, str, str, str, str]:
    """The ARGV batch_lib.lua builds batch and queue keys from, and the time it writes."""
    return (BATCH_PREFIX, QUEUE_PREFIX, QUEUES, BATCH_STATS, repr(now))
