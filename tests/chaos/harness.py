"""One chaos run: enqueue, start workers, hit them on a seeded schedule, drain, judge.

    report = ChaosRun(config, directory).run()
    assert report.ok, report.format()

The pieces are real: two redis-server processes (the job Redis with AOF everysec, and
the witness, which no fault touches), `sidequest worker` processes, and a TCP proxy in
front of one worker. The faults:
- SIGKILL of random workers, each restarted after a short pause (as supervisord does);
- SIGTERM of random workers: they must exit 0 within their grace period, and are
  restarted;
- SIGSTOP of one busy worker for longer than the heartbeat timeout: the harness resumes
  it only once its jobs were recovered, so its late completions must be refused;
- a network stall of the proxied worker for several seconds, and later a reset;
- one crash of the job Redis that loses the last second of acknowledged writes, as a
  host crash with appendfsync everysec can (`aof.py`).

What is guaranteed, and checked: every job enqueued and fsynced before the faults
completes with an outcome Redis accepted, read from its AOF (lost = 0), and no job's
final outcome is accepted twice; each execution whose outcome was not accepted is
explained by a fault that hit the process holding the job (the harness records what each
process held while each fault lasted); every planned kind of fault happened; scheduled
jobs never start early; afterwards the queues, `schedule` and `retry` are empty, `dead`
holds exactly the jobs that always fail, and nothing (in-flight hash, owner, lease, key
without TTL) is left behind.
"""

from __future__ import annotations

import heapq
import signal
import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path

import redis

import sidequest
from sidequest import keys
from sidequest.adapter import set_adapter
from tests.chaos import aof, inspection, ledger, plan
from tests.chaos.analysis import Execution, Fault, Job, Verdict, judge, parse_events
from tests.chaos.chaos_jobs import EVENTS, AsyncChaosJob, ChaosJob
from tests.chaos.cluster import Incarnation, Slot, busy, identity_of
from tests.chaos.config import ChaosConfig
from tests.chaos.conftest import REPORTS
from tests.support.polling import wait_for
from tests.support.redis_server import RedisServer
from tests.support.tcp_proxy import TcpProxy

DOOMED_ERROR = "tests.chaos.chaos_jobs.DoomedError"
#: how often a fault's watch looks at what the process holds
WATCH_INTERVAL = 0.05


@dataclass
class Watch:
    """What a process held in flight (jids) while a fault lasted; pid None: every process."""

    pid: int | None
    held: set[str] = field(default_factory=set)
    by_pid: dict[int, set[str]] = field(default_factory=dict)
    open: bool = True


@dataclass
class Freeze:
    pid: int
    identity: str | None
    busy: int
    stopped: float
    resumed: float = 0.0
    queued_at_resume: int = 0
    recovered_before_resume: bool = False


@dataclass
class ChaosReport:
    config: ChaosConfig
    verdict: Verdict
    figures: dict[str, object]
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.verdict.ok and not self.problems

    def format(self) -> str:
        lines = [f"chaos run (seed {self.config.seed}; replay with CHAOS_SEED={self.config.seed}):"]
        lines += [f"  {name:<26} {value}" for name, value in self.figures.items()]
        verdict = self.verdict
        for jid, runs in list(verdict.unexplained.items())[:10]:
            lines.append(f"  UNEXPLAINED {jid}: {runs}")
        if verdict.lost:
            lines.append(f"  LOST: {len(verdict.lost)} jobs, e.g. {verdict.lost[:20]}")
            if verdict.refused_only:
                lines.append(
                    f"  {len(verdict.refused_only)} of them completed, but Redis refused "
                    f"every outcome: {verdict.refused_only[:20]}"
                )
        if verdict.early:
            lines.append(f"  STARTED EARLY: {verdict.early[:20]}")
        if verdict.strangers:
            lines.append(f"  RAN BUT NEVER ENQUEUED: {verdict.strangers[:20]}")
        if verdict.twice:
            lines.append(f"  FINAL OUTCOME ACCEPTED TWICE: {verdict.twice[:20]}")
        if verdict.phantoms:
            lines.append(f"  ACCEPTED WITHOUT A FINISHED EXECUTION: {verdict.phantoms[:20]}")
        lines += [f"  PROBLEM: {problem}" for problem in self.problems]
        return "\n".join(lines)


def run_and_check(label: str, config: ChaosConfig, make_run: Callable[[], ChaosRun]) -> None:
    """Run a chaos run and assert its verdict: nothing lost, nothing run twice, every
    duplicate explained, and each kind of fault injected at least once.

    `label` names the run in the seed line ("chaos", "batch chaos"). The seed is
    printed before the run starts, so that a run that fails or hangs before its report
    can be replayed; the report then replaces it in the session's chaos figures.
    """
    print(f"{label} seed {config.seed}: replay with CHAOS_SEED={config.seed}", flush=True)
    REPORTS.append(f"{label} seed {config.seed}")
    report = make_run().run()
    text = report.format()
    REPORTS[-1] = text
    print(text)
    assert report.verdict.lost == [], text
    assert report.verdict.twice == [], text
    assert report.verdict.unexplained == {}, text
    assert report.ok, text
    for kind in ("kills (SIGKILL)", "terms (SIGTERM)", "freezes (SIGSTOP)", "redis restarts"):
        assert report.figures[kind], f"no {kind}\n{text}"


class ChaosRun:
    #: the modules every worker imports with -r
    REQUIRES: tuple[str, ...] = ("tests.chaos.chaos_jobs",)

    def __init__(self, config: ChaosConfig, directory: Path):
        self.config = config
        self.directory = directory
        self.problems: list[str] = []
        self.faults: list[Fault] = []
        self.skipped = 0
        self.restarts = 0
        self.crash: aof.Crash | None = None
        self.freeze: Freeze | None = None
        self._pending: list[tuple[float, int, Callable[[], None]]] = []
        self._sequence = 0
        self._state: dict[int, str] = {}  # slot -> up, terminating, down, frozen
        self._terminating: dict[int, tuple[int, float, float]] = {}
        self._events: list[bytes] = []
        self._ended: set[str] = set()
        self._open: dict[bytes, tuple[str, int, float]] = {}  # token -> jid, pid, start
        self._seconds: dict[str, float] = {}  # jid -> how long the job sleeps
        self.frozen_late = 0
        self.frozen_refused = 0
        self._watches: list[Watch] = []
        self._term_watches: dict[int, Watch] = {}
        self._cut_watch: Watch | None = None
        self._freeze_watch: Watch | None = None
        self._observed = 0.0
        self._window_end = 0.0
        self.planned: list[plan.PlannedFault] = []

    def _start_servers(self, stack: ExitStack) -> None:
        """Start the job Redis (AOF, no automatic rewrite), the witness Redis, the proxy,
        the AOF history and both clients; `stack` stops each. The periodic run (a
        subclass with its own `run`) starts the same servers."""
        self.job_redis = RedisServer(
            self.directory / "redis",
            appendonly=True,
            extra=["--auto-aof-rewrite-percentage", "0"],
        )
        self.job_redis.start()
        stack.callback(self.job_redis.stop)
        self.witness = RedisServer(self.directory / "witness")
        self.witness.start()
        stack.callback(self.witness.stop)
        self.proxy = TcpProxy(self.job_redis.port).start()
        stack.callback(self.proxy.stop)
        self.history = aof.AofHistory(self.job_redis).start()
        stack.callback(self.history.stop)
        self.client = redis.Redis.from_url(self.job_redis.url, socket_timeout=10)
        stack.callback(self.client.close)
        self.witness_client = redis.Redis.from_url(self.witness.url)
        stack.callback(self.witness_client.close)

    # -- the run ------------------------------------------------------------------------

    def run(self) -> ChaosReport:
        started = time.monotonic()
        config = self.config
        with ExitStack() as stack:
            self._start_servers(stack)

            self.jobs = self._enqueue()
            self.slots = self._slots()
            stack.callback(self._stop_everything)
            for slot in self.slots:
                slot.start()
                self._state[slot.index] = "up"
            wait_for(
                lambda: all(identity_of(self.client, slot.pid) for slot in self.slots),
                timeout=30,
                message="every worker's first heartbeat",
            )
            self.planned = plan.faults(config)
            self._hit(self.planned, time.time())
            self._drain()
            self._stop_workers()
            verdict = self._judge()
            self._check_redis()
            self._check_fault_kinds()
        figures = self._figures(verdict, time.monotonic() - started)
        return ChaosReport(config, verdict, figures, self.problems)

    def _enqueue(self) -> list[Job]:
        """Every job goes in before the faults, and is fsynced before the Redis crash."""
        sidequest.configure(self.job_redis.url)
        try:
            jobs = self._push(plan.jobs(self.config))
        finally:
            set_adapter(None)
        # appendfsync everysec: Redis may hold the last writes in memory while an fsync
        # runs; once they are written, an fsync follows within about two seconds.
        wait_for(
            lambda: self._aof_state()[0] == 0,
            timeout=15,
            message="Redis to write the enqueues to its AOF",
        )
        written = time.time()
        wait_for(
            lambda: time.time() > written + 2.5 and self._aof_state() == (0, 0),
            timeout=15,
            message="the enqueues to be fsynced",
        )
        return jobs

    def _push(self, planned: list[plan.PlannedJob]) -> list[Job]:
        """Enqueue the planned jobs; notes how long each sleeps. Every other job has an
        async perform: both kinds share the queue and the workers, and every check holds
        for both."""
        now_jobs = [job for job in planned if not job.delay]
        jids = [
            *ChaosJob.perform_bulk(
                [[job.n, job.seconds, job.kind] for job in now_jobs if job.n % 2 == 0]
            ),
            *AsyncChaosJob.perform_bulk(
                [[job.n, job.seconds, job.kind] for job in now_jobs if job.n % 2 == 1]
            ),
        ]
        now_jobs = [job for job in now_jobs if job.n % 2 == 0] + [
            job for job in now_jobs if job.n % 2 == 1
        ]
        jobs = [Job(jid, job.kind) for jid, job in zip(jids, now_jobs, strict=True)]
        # Added to, not replaced: the batch run pushes its jobs in many calls, and the
        # freeze looks up the length of whichever job runs at that moment.
        self._seconds.update((jid, job.seconds) for jid, job in zip(jids, now_jobs, strict=True))
        for job in planned:
            if job.delay:
                at = time.time() + job.delay
                kind = AsyncChaosJob if job.n % 2 else ChaosJob
                enqueued = kind.perform_at(at, job.n, job.seconds, job.kind, at)
                jobs.append(Job(enqueued.jid, job.kind, at))
                self._seconds[enqueued.jid] = job.seconds
        return jobs

    def _aof_state(self) -> tuple[int, int]:
        """(bytes Redis holds unwritten, fsyncs pending), from one INFO call."""
        info = self.client.info("persistence")
        return int(info["aof_buffer_length"]), int(info["aof_pending_bio_fsync"])

    def _slots(self) -> list[Slot]:
        config = self.config
        env = {
            "SIDEQUEST_HEARTBEAT_INTERVAL": str(config.heartbeat_interval),
            "SIDEQUEST_HEARTBEAT_TIMEOUT": str(config.heartbeat_timeout),
            "SIDEQUEST_MAX_RECOVERIES": str(config.max_recoveries),
            "WITNESS_URL": self.witness.url,
        }
        args = ["-c", str(config.concurrency), "-t", str(config.shutdown_timeout)]
        args += ["--log-level", "WARNING"]
        return [
            Slot(
                index,
                self.proxy.url if index == plan.PROXIED_SLOT else self.job_redis.url,
                self.directory,
                args,
                env,
                self.REQUIRES,
            )
            for index in range(config.workers)
        ]

    # -- injecting faults ---------------------------------------------------------------

    def _later(self, at: float, action: Callable[[], None]) -> None:
        self._sequence += 1
        heapq.heappush(self._pending, (at, self._sequence, action))

    def _hit(self, faults: list[plan.PlannedFault], opened: float) -> None:
        handlers: dict[str, Callable[[plan.PlannedFault], None]] = {
            "kill": self._kill,
            "term": self._term,
            "freeze": self._freeze,
            "stall": self._cut,
            "reset": self._cut,
            "redis-crash": self._crash,
        }
        self._window_end = opened + 0.97 * self.config.duration
        for fault in faults:
            self._later(opened + fault.at, partial(handlers[fault.kind], fault))
        while self._pending or self._terminating:
            self._observe()
            self._reap()
            self._notice_exits()
            if self._pending and self._pending[0][0] <= time.time():
                heapq.heappop(self._pending)[2]()
                continue
            wake = self._pending[0][0] if self._pending else time.time() + 0.05
            time.sleep(max(0.0, min(0.05, wake - time.time())))

    def _defer(self, fault: plan.PlannedFault, action: Callable[[plan.PlannedFault], None]) -> None:
        """A slot that is not up (or not registered yet) gets the fault a little later."""
        if time.time() + 0.25 < self._window_end:
            self._later(time.time() + 0.25, partial(action, fault))
        else:
            self.skipped += 1

    def _kill(self, fault: plan.PlannedFault) -> None:
        assert fault.slot is not None
        slot = self.slots[fault.slot]
        if self._state[slot.index] != "up":
            self._defer(fault, self._kill)
            return
        killed = slot.kill()
        # Dead, it changes nothing any more: what it holds now is what it held.
        held = self._holdings().get(killed.pid, set()) if killed.pid else set()
        self.faults.append(replace(killed, held=frozenset(held)))
        self._state[slot.index] = "down"
        self._later(time.time() + fault.seconds, partial(self._restart, slot))

    def _term(self, fault: plan.PlannedFault) -> None:
        assert fault.slot is not None
        slot = self.slots[fault.slot]
        # A worker that has not beaten yet has not installed its handlers either: SIGTERM
        # would end it by the default action, before it fetched anything. Not the case
        # under test, so such a moment is skipped like a busy slot.
        if self._state[slot.index] != "up" or not self._registered(slot.pid):
            self._defer(fault, self._term)
            return
        self._terminating[slot.index] = (slot.pid, time.time(), fault.seconds)
        self._term_watches[slot.index] = self._watch(slot.pid)
        self._state[slot.index] = "terminating"
        slot.signal(signal.SIGTERM)

    def _registered(self, pid: int) -> bool:
        try:
            return identity_of(self.client, pid) is not None
        except redis.RedisError:
            return False

    def _reap(self) -> None:
        """Terminated workers must exit 0 within their grace period; then restart them."""
        for index, (pid, sent, delay) in list(self._terminating.items()):
            slot = self.slots[index]
            code = slot.exit_code()
            if code is None:
                limit = self.config.shutdown_timeout + 20
                if time.time() < sent + limit:
                    continue
                self.problems.append(f"worker {pid} did not stop within {limit}s of SIGTERM")
                slot.signal(signal.SIGKILL)
                slot.ended("kill")
            else:
                slot.ended("term")
                if code != 0:
                    self.problems.append(f"worker {pid} exited {code} after SIGTERM")
            del self._terminating[index]
            held = self._close(self._term_watches.pop(index))
            self.faults.append(Fault("term", pid, sent, time.time(), held))
            self._state[index] = "down"
            self._later(time.time() + delay, partial(self._restart, slot))

    def _notice_exits(self) -> None:
        """A worker that exits by itself is a bug; restart it as supervisord would."""
        for slot in self.slots:
            if self._state[slot.index] != "up":
                continue
            code = slot.exit_code()
            if code is not None:
                pid = slot.pid
                incarnation = slot.ended(f"exit {code}")
                self.problems.append(
                    f"worker {pid} exited by itself with status {code}; see {incarnation.log}"
                )
                self._state[slot.index] = "down"
                self._later(time.time() + 0.5, partial(self._restart, slot))

    def _restart(self, slot: Slot) -> None:
        slot.start()
        self.restarts += 1
        self._state[slot.index] = "up"

    def _freeze(self, fault: plan.PlannedFault) -> None:
        """SIGSTOP a worker while it runs jobs; resume it once they were recovered."""
        assert fault.slot is not None
        slot = self.slots[fault.slot]
        identity = identity_of(self.client, slot.pid)
        deadline = time.monotonic() + 5.0
        while not self._running_long(slot.pid) and time.monotonic() < deadline:
            time.sleep(0.005)  # waiting for a moment when it runs a job: poll, bounded
        running = busy(self.client, identity) if identity else 0
        slot.signal(signal.SIGSTOP)
        self._freeze_watch = self._watch(slot.pid)
        self._state[slot.index] = "frozen"
        self.freeze = Freeze(slot.pid, identity, running, time.time())
        self._later(
            time.time() + fault.seconds, partial(self._thaw, slot, time.time() + fault.seconds + 20)
        )

    def _thaw(self, slot: Slot, deadline: float) -> None:
        freeze = self.freeze
        assert freeze is not None
        identity = freeze.identity
        still_owner = identity is not None and self._owns_jobs(identity)
        if still_owner and time.time() < deadline:
            self._later(time.time() + 0.1, partial(self._thaw, slot, deadline))
            return
        freeze.recovered_before_resume = not still_owner
        freeze.queued_at_resume = self._queued()
        slot.signal(signal.SIGCONT)
        freeze.resumed = time.time()
        self._state[slot.index] = "up"
        assert self._freeze_watch is not None
        held = self._close(self._freeze_watch)
        self.faults.append(Fault("freeze", freeze.pid, freeze.stopped, freeze.resumed, held))

    def _owns_jobs(self, identity: str) -> bool:
        try:
            return bool(
                self.client.hlen(keys.inflight(identity))
                or self.client.llen(keys.landing(identity))
            )
        except redis.RedisError:
            return True

    def _queued(self) -> int:
        try:
            return int(self.client.llen(keys.queue("default")))
        except redis.RedisError:
            return 0

    def _cut(self, fault: plan.PlannedFault) -> None:
        assert fault.slot is not None
        pid = self.slots[fault.slot].pid
        started = time.time()
        watch = self._watch(pid)
        if fault.kind == "stall":
            self.proxy.stall()
        else:
            self.proxy.reset()
        self._later(started + fault.seconds, partial(self._heal, fault.kind, pid, started, watch))

    def _heal(self, kind: str, pid: int, started: float, watch: Watch) -> None:
        self.proxy.heal()
        self.faults.append(Fault(kind, pid, started, time.time(), self._close(watch)))

    def _crash(self, fault: plan.PlannedFault) -> None:
        config = self.config
        self.crash = aof.crash_losing(self.job_redis, self.history, config.lost_write_seconds)
        # Leases restored by the rollback expire, and live processes may be presumed dead
        # until they beat again: recoveries caused by the crash happen until about here.
        settled = self.crash.up_at + config.heartbeat_timeout + 4 * config.heartbeat_interval + 2
        # What each process holds until then: jobs a process presumed dead loses to a
        # recovery while it still runs them. (The jobs whose writes the crash dropped are
        # named from the AOF when the run is judged.)
        watch = self._watch(None)
        self._later(settled, partial(self._settled, watch, settled))

    def _settled(self, watch: Watch, settled: float) -> None:
        assert self.crash is not None
        self._close(watch)
        for pid, held in watch.by_pid.items():
            self.faults.append(
                Fault("redis-crash", pid, self.crash.rolled_back_to, settled, frozenset(held))
            )

    # -- what processes hold while a fault lasts -----------------------------------------

    def _holdings(self) -> dict[int, set[str]]:
        try:
            return inspection.holdings(self.client)
        except redis.RedisError:
            return {}

    def _watch(self, pid: int | None) -> Watch:
        watch = Watch(pid)
        self._watches.append(watch)
        self._look(watch, self._holdings())
        return watch

    def _look(self, watch: Watch, holdings: dict[int, set[str]]) -> None:
        if watch.pid is not None:
            watch.held |= holdings.get(watch.pid, set())
            return
        for pid, held in holdings.items():
            watch.by_pid.setdefault(pid, set()).update(held)

    def _observe(self) -> None:
        """Every open watch notes what its process holds now (every WATCH_INTERVAL)."""
        if not self._watches or time.monotonic() < self._observed + WATCH_INTERVAL:
            return
        self._observed = time.monotonic()
        holdings = self._holdings()
        for watch in self._watches:
            self._look(watch, holdings)

    def _close(self, watch: Watch) -> frozenset[str]:
        self._look(watch, self._holdings())
        watch.open = False
        self._watches.remove(watch)
        return frozenset(watch.held)

    # -- after the faults ---------------------------------------------------------------

    def _witness_events(self) -> list[bytes]:
        fresh = self.witness_client.lrange(EVENTS, len(self._events), -1)
        self._events.extend(fresh)
        for line in fresh:
            kind, jid, token, pid, moment = line.split()[:5]
            if kind == b"s":
                self._open[token] = (jid.decode(), int(pid), float(moment))
            else:
                self._open.pop(token, None)
                self._ended.add(jid.decode())
        return self._events

    def _running_long(self, pid: int) -> bool:
        """Whether process `pid` runs a job now that will still run for a while."""
        self._witness_events()
        now = time.time()
        return any(
            run_pid == pid and start + self._seconds.get(jid, 0.0) > now + 0.2
            for jid, run_pid, start in self._open.values()
        )

    def _quiescent(self) -> bool:
        try:
            self._witness_events()
            if any(job.jid not in self._ended for job in self.jobs):
                return False
            left = inspection.pending(self.client, due_before=float("inf"))
            return not (
                any(left.queued.values()) or left.scheduled or left.retries_due or left.in_flight
            )
        except redis.RedisError:
            return False

    def _pending_work(self) -> str:
        """What keeps the run from finishing, for the failure message."""
        self._witness_events()
        waiting = [job.jid for job in self.jobs if job.jid not in self._ended]
        client = self.client
        lines = [f"{len(waiting)} jobs never finished, e.g. {waiting[:5]}"]
        lines += inspection.leftovers(client)
        for slot in self.slots:
            if slot.running():
                identity = identity_of(client, slot.pid)
                lines.append(f"slot {slot.index}: pid {slot.pid}, identity {identity}")
        return "\n".join(lines)

    def _drain(self) -> None:
        try:
            wait_for(
                self._quiescent,
                timeout=self.config.drain_timeout,
                interval=0.2,
                message="every job to finish and every queue and in-flight hash to empty",
            )
        except AssertionError as error:
            raise AssertionError(f"{error}\n{self._pending_work()}") from None

        # Dead processes' owner entries go once a live process has recovered them.
        def owners_are_live() -> bool:
            live = {identity_of(self.client, slot.pid) for slot in self.slots}
            owners = {member.decode() for member in self.client.smembers(keys.OWNERS)}
            return owners <= live

        wait_for(
            owners_are_live,
            timeout=self.config.heartbeat_timeout * 3 + 10,
            interval=0.1,
            message="dead processes to be cleared from the owners set",
        )
        # The frozen worker rejoined: the same process beats again under its identity.
        if self.freeze is not None and identity_of(self.client, self.freeze.pid) is None:
            self.problems.append("the frozen worker does not beat again after it resumed")

    def _stop_workers(self) -> None:
        # The final stop judges graceful shutdown, which starts once a process runs: one
        # restarted in the last moments of the faults may still be importing its jobs,
        # and a SIGTERM before its handlers exist ends it by the signal (status -15).
        wait_for(
            lambda: all(identity_of(self.client, slot.pid) for slot in self.slots),
            timeout=30,
            message="every worker's heartbeat before the final SIGTERM",
        )
        for slot in self.slots:
            slot.signal(signal.SIGTERM)
        for slot in self.slots:
            pid = slot.pid
            assert slot.process is not None
            code = slot.process.wait(self.config.shutdown_timeout + 20)
            slot.ended("stop")
            self._state[slot.index] = "down"
            if code != 0:
                self.problems.append(f"worker {pid} exited {code} after the final SIGTERM")
        wait_for(
            lambda: not list(self.client.scan_iter(match=keys.lease("*"))),
            timeout=self.config.heartbeat_timeout + 5,
            message="the leases of killed workers to expire",
        )

    def _stop_everything(self) -> None:
        """Teardown, also after a failure: no process outlives the run."""
        if self.freeze is not None and not self.freeze.resumed:
            self.slots[0].signal(signal.SIGCONT)
        for slot in self.slots:
            if slot.running() and slot.process is not None:
                slot.process.stop()

    def _check_redis(self) -> None:
        client = self.client
        doomed = [job.jid for job in self.jobs if job.kind == "doomed"]
        self.problems += inspection.leftovers(client)
        self.problems += inspection.dead_set_problems(client, doomed, DOOMED_ERROR)
        self.problems += [
            f"key without a TTL: {key}" for key in inspection.keys_without_ttl(client)
        ]

    def _judge(self) -> Verdict:
        executions = parse_events(self._witness_events())
        accepted = self._ledger()
        verdict = judge(self.jobs, executions, self.faults, accepted.accepted)
        self._check_freeze(executions)
        return verdict

    def _ledger(self) -> ledger.Ledger:
        """What the job Redis accepted, from its AOF; the crash's dropped writes as a fault."""
        wait_for(
            lambda: self._aof_state()[0] == 0,
            timeout=15,
            message="Redis to write the last commands to its AOF",
        )
        files = aof.incremental_files(self.job_redis.directory)
        if len(files) != 1:
            self.problems.append(f"expected one incremental AOF file, found {files}")
        data = b"".join(path.read_bytes() for path in files)
        crash = self.crash
        if crash is not None:
            kept = ledger.complete_prefix(crash.before[: crash.cut])
            if data[:kept] != crash.before[:kept]:
                self.problems.append("the AOF after the crash does not continue where it was cut")
            at_cut = ledger.read(crash.before[:kept]).state
            dropped = ledger.touched(crash.before[kept:], at_cut)
            self.faults.append(
                Fault("redis-crash", None, crash.rolled_back_to, crash.up_at, frozenset(dropped))
            )
        read = ledger.read(data)
        # Every outcome Redis counted in stat:processed is one the ledger saw remove its
        # job: an outcome "accepted" without removing anything (a fenced one let through)
        # shows here.
        counted = int(self.client.get(keys.STAT_PROCESSED) or 0)
        outcomes = sum(sum(counts.values()) for counts in read.outcomes.values())
        if counted != outcomes:
            self.problems.append(
                f"stat:processed is {counted}, but Redis removed a job for {outcomes} outcomes"
            )
        return read

    def _check_freeze(self, executions: list[Execution]) -> None:
        """The frozen worker's late completions were refused, and it went back to work."""
        freeze = self.freeze
        if freeze is None:
            self.problems.append("the freeze never happened")
            return
        if not freeze.recovered_before_resume:
            self.problems.append("the frozen worker's jobs were not recovered while it was frozen")
        late = [
            run
            for run in executions
            if run.pid == freeze.pid
            and run.start < freeze.stopped
            and (run.end or 0) > freeze.resumed
        ]
        self.frozen_late = len(late)
        self.frozen_refused = self._incarnation(freeze.pid).refusals()
        if not late:
            self.problems.append(f"the frozen worker had no job running (busy {freeze.busy})")
        accepted = [run.jid for run in late if run.accepted]
        if accepted:
            self.problems.append(
                f"the frozen worker finished {len(late)} jobs late and Redis accepted "
                f"{len(accepted)} of those outcomes: {accepted[:5]}"
            )
        if freeze.queued_at_resume > 0:
            later = [
                run
                for run in executions
                if run.pid == freeze.pid and run.start > freeze.resumed and run.accepted
            ]
            if not later:
                self.problems.append("the frozen worker did not take new jobs after it resumed")

    def _check_fault_kinds(self) -> None:
        """Every kind of fault the plan holds happened at least once."""
        planned = {fault.kind for fault in self.planned}
        happened = {fault.kind for fault in self.faults}
        for kind in sorted(planned - happened):
            self.problems.append(f"no {kind} happened, though the plan had one")

    def _incarnation(self, pid: int) -> Incarnation:
        for slot in self.slots:
            for incarnation in slot.history:
                if incarnation.pid == pid:
                    return incarnation
        raise KeyError(pid)

    def _figures(self, verdict: Verdict, elapsed: float) -> dict[str, object]:
        kinds = [fault.kind for fault in self.faults]
        proxied = self.slots[plan.PROXIED_SLOT].history
        return {
            "jobs": verdict.jobs,
            "executions": verdict.executions,
            "kills (SIGKILL)": kinds.count("kill"),
            "terms (SIGTERM)": kinds.count("term"),
            "freezes (SIGSTOP)": kinds.count("freeze"),
            "network cuts": f"{kinds.count('stall')} stall, {kinds.count('reset')} reset",
            "worker restarts": self.restarts,
            "redis restarts": 1 if self.crash else 0,
            "AOF bytes lost": self.crash.bytes_lost if self.crash else 0,
            "faults skipped": self.skipped,
            "accepted outcomes": verdict.accepted,
            "lost": len(verdict.lost),
            "accepted twice": len(verdict.twice),
            "duplicates": verdict.duplicates,
            "duplicates by cause": dict(sorted(verdict.causes.items())),
            "unexplained": len(verdict.unexplained),
            "refused outcomes (all)": sum(
                inc.refusals() for slot in self.slots for inc in slot.history
            ),
            "frozen: late / refused": f"{self.frozen_late} / {self.frozen_refused}",
            "proxied: refused": sum(inc.refusals() for inc in proxied),
            "elapsed": f"{elapsed:.1f}s",
        }
